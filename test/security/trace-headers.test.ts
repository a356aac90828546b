// Events show x-moat-trace and traceparent without reading them for secrets when they hold the request's trace and
// nothing more (hops/events/redact.ts, carriesTraceOnly): the event has the trace in a field of its own. Whoever
// writes those headers on the way (the agent its traceparent, a third-party hop any header) must not get a secret
// into the ledger through that pass: anything but the exact trace, in Moat's shape, is read by DLP as every header is.
// Pure: the headers as a boundary's event would record them.
import { expect } from 'chai';
import { recordableHeaders } from '../../hops/events/recordable';
import { timeOrderedId } from '../../hops/logic/trace';
import { fake } from '../helpers/fake-secrets';

const span = '0123456789abcdef';

describe('security: trace headers in events', () => {
  it('the trace itself is shown as it is (the pass exists, so the cases below test it)', () => {
    const trace = timeOrderedId();
    const headers = { 'x-moat-trace': trace, traceparent: `00-${trace}-${span}-01` };
    expect(recordableHeaders(headers, {}, trace)).to.deep.equal(headers);
  });

  it('an x-moat-trace that is not the trace is read: a key in it is masked', () => {
    const key = fake.anthropicKey();
    const out = recordableHeaders({ 'x-moat-trace': key }, {}, timeOrderedId());
    expect(out['x-moat-trace']).to.equal('[REDACTED:anthropic_key]');
  });

  it('a traceparent of another trace, or with more after it, is read: a key in it is masked', () => {
    const trace = timeOrderedId();
    const key = fake.awsAccessKey();
    const spellings = [
      `00-${trace}-${span}-01,${key}`,
      `00-${trace}-${span}-01 ${key}`,
      `${key}-${trace}-${span}-01`,
      `00-${trace}-${key}-01`,
    ];
    for (const value of spellings) {
      const out = recordableHeaders({ traceparent: value }, {}, trace);
      expect(out.traceparent, value).to.not.include(key.slice(4));
      expect(out.traceparent, value).to.include('[REDACTED:aws_access_key]');
    }
  });

  it('a trace that is not Moat-shaped gets no pass: a key taken as the trace is still masked in the headers', () => {
    // A hop in front could send x-moat-trace: <key>, and the link would take it as the request's trace.
    const key = fake.githubToken();
    const out = recordableHeaders({ 'x-moat-trace': key }, {}, key);
    expect(out['x-moat-trace']).to.equal('[REDACTED:github_token]');
  });

  it('repeated headers (an array) are read, never passed', () => {
    const trace = timeOrderedId();
    const key = fake.openAiKey();
    const out = recordableHeaders({ 'x-moat-trace': [trace, key] as unknown as string }, {}, trace);
    expect(out['x-moat-trace']).to.not.include(key.slice(6));
  });

  it('credential names and secret-shaped header names are still caught first', () => {
    const trace = timeOrderedId();
    const slack = fake.slackBotToken();
    const out = recordableHeaders({ [slack]: trace }, {}, trace);
    expect(Object.keys(out).join()).to.not.include(slack.slice(6).toLowerCase());
  });
});
