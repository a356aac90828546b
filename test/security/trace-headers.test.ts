// Events show x-moat-trace and traceparent without reading them for secrets when they hold the request's trace and
// nothing more (hops/events/redact.ts, carriesTraceOnly). Whoever writes those headers on the way (the agent its
// traceparent, a third-party hop any header) must not get a secret into the ledger through that pass: anything but the
// exact trace, in Moat's shape, is read by DLP as every header is, and the pass is sound only while no DLP detector
// finds a secret in lower-case hex, which the last test holds to. Pure: the headers as a boundary's event records them.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { recordableHeaders } from '../../hops/events/recordable';
import { REDACTED } from '../../hops/events/redact';
import { carriesTraceOnly } from '../../hops/logic/trace';
import { findSecretsDecoded } from '../../hops/dlp';
import { timeOrderedId } from '../../hops/logic/trace';
import { traceHeadersToSend, traceStep } from '../../hops/logic/admission';
import { fake } from '../helpers/fake-secrets';
import { PolicyEngine, type SecretScanner } from '../../hops/policy/engine';
import { UsageBook } from '../../hops/policy/usage-book';
import type { RequestView } from '../../hops/logic/view';

const span = '0123456789abcdef';

describe('security: trace headers in events', () => {
  it('passes only the exact trace, in Moat shape, and a traceparent of it', () => {
    const trace = timeOrderedId();
    expect(carriesTraceOnly('x-moat-trace', trace, trace)).to.equal(true);
    expect(carriesTraceOnly('traceparent', `00-${trace}-${span}-01`, trace)).to.equal(true);
    expect(carriesTraceOnly('x-moat-trace', timeOrderedId(), trace), 'another trace').to.equal(false);
    expect(carriesTraceOnly('traceparent', `00-${timeOrderedId()}-${span}-01`, trace), 'another').to.equal(false);
    expect(carriesTraceOnly('traceparent', `00-${trace}-${span}-01 x`, trace), 'more after it').to.equal(false);
    expect(carriesTraceOnly('x-moat-trace', [trace], trace), 'repeated').to.equal(false);
    expect(carriesTraceOnly('x-other', trace, trace), 'another header').to.equal(false);
    const odd = 'AB'.repeat(16);
    expect(carriesTraceOnly('x-moat-trace', odd, odd), 'not Moat-shaped').to.equal(false);
  });

  it('an x-moat-trace that is not the trace is read: a key in it is masked', () => {
    const key = fake.anthropicKey();
    const out = recordableHeaders({ 'x-moat-trace': key }, {}, timeOrderedId());
    expect(out['x-moat-trace']).to.equal('[REDACTED:anthropic_key]');
  });

  it('a traceparent of another shape is read: a key in it is masked', () => {
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

  it('a link takes no x-moat-trace that is not a trace id: a key sent there never becomes the trace', () => {
    // The trace goes into every event's trace field, which DLP does not read; a third-party hop writes what it likes.
    const key = fake.anthropicKey();
    expect(traceStep('builtin', { 'x-moat-trace': key }, true), 'after a third-party hop: claimed').to.equal('claim');
    const fresh = traceStep('egress', { 'x-moat-trace': key }, false);
    if (fresh === 'claim') throw new Error('cannot claim here');
    expect(fresh.trace).to.match(/^[0-9a-f]{32}$/);
    expect(fresh.correlation).to.equal('unmatched');
    expect(traceHeadersToSend(fresh, false), 'the key is not sent on').to.deep.equal({ 'x-moat-trace': fresh.trace });
  });

  it('a chain that names traceparent a credential header (generic grants) still gets it redacted', () => {
    const trace = timeOrderedId();
    const out = recordableHeaders({ traceparent: `00-${trace}-${span}-01` }, { redactHeaders: ['traceparent'] }, trace);
    expect(out.traceparent).to.equal(REDACTED);
  });

  // Why it holds, beyond these samples: hex digits and '-' are base64url characters, so DLP's base64 view decodes them,
  // but only into the printable bytes k o s w { (first of three), G M N O W ] ^ _ g m n o w } ~ (second) and
  // 4-9 : ; < = > Z [ \ ] ^ _ t-z { | } ~ (third). No detector's prefix (AKIA, sk-, ghp_, xox, AIza, -----BEGIN, a
  // NAME= or user:password@) can be spelled from them. A base64 run in that text is at most 24 characters: decoded once
  // more it gives at most 18 bytes, again without those prefixes, too few (under 20) to be decoded a third time.
  // A new detector must keep this test passing.
  it('DLP finds no secret in lower-case hex, plain or a key hex-encoded: what the pass relies on', () => {
    const keys = [fake.awsAccessKey(), fake.anthropicKey(), fake.openAiKey(), fake.githubToken(), fake.slackBotToken()];
    const texts = [
      ...keys.map((k) => Buffer.from(k).toString('hex')),
      ...Array.from(
        { length: 500 },
        () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
      ),
    ];
    for (const text of texts) expect(findSecretsDecoded(text).findings, text).to.deep.equal([]);
  });
});

// moat-policy's DLP leaves the same two headers unread, on the same condition (hops/policy/engine.ts, inspect): an
// agent (or a hop before moat-policy) that writes a secret into either must still be stopped before a provider.
describe('security: trace headers in moat-policy DLP', () => {
  /** A policy engine with the real detectors, and every text its DLP read. */
  function engine(): { engine: PolicyEngine; read: string[] } {
    const read: string[] = [];
    const scan: SecretScanner = (text, labels, options) => {
      read.push(text);
      return findSecretsDecoded(text, labels as Parameters<typeof findSecretsDecoded>[1], [], options);
    };
    const settings = {
      mode: 'enforce' as const,
      rules: [],
      dlp: { enabled: true },
      inspectMaxBytes: 1 << 20,
      oversize: 'deny' as const,
      prices: {},
    };
    return { engine: new PolicyEngine(settings, { now: () => 0, scan, usage: new UsageBook() }), read };
  }
  const view = (trace: string | undefined, headers: Record<string, string>): RequestView =>
    ({
      method: 'GET',
      scheme: 'https',
      host: 'api.example.test',
      port: 443,
      path: '/v1/models',
      headers,
      trace,
    }) as RequestView;

  it('reads neither header when it holds the request trace and nothing else, and lets the request go', () => {
    const trace = timeOrderedId();
    const traceparent = `00-${trace}-${span}-01`;
    const e = engine();
    const verdict = e.engine.decide(view(trace, { traceparent, 'x-moat-trace': trace, 'x-other': 'a value' }));
    expect(verdict.action).to.equal('allow');
    expect(e.read).to.include('a value');
    expect(e.read).to.not.include(traceparent);
    expect(e.read).to.not.include(trace);
  });

  it('blocks a key written into either header, around the trace or in its place', () => {
    const trace = timeOrderedId();
    const key = fake.awsAccessKey();
    const spellings: Record<string, string>[] = [
      { traceparent: `00-${trace}-${span}-01,${key}` },
      { traceparent: `00-${trace}-${key}-01` },
      { traceparent: `${key}-${trace}-${span}-01` },
      { 'x-moat-trace': key },
      { 'x-moat-trace': `${trace} ${key}` },
    ];
    for (const headers of spellings) {
      const verdict = engine().engine.decide(view(trace, headers));
      expect(verdict.action, JSON.stringify(headers)).to.equal('deny');
      expect(verdict.kind, JSON.stringify(headers)).to.equal('dlp_blocked');
      expect(verdict.reason).to.equal(`request header ${Object.keys(headers)[0]} contains aws_access_key`);
    }
  });

  it('reads both headers when the request trace is not known, or they hold another trace', () => {
    const trace = timeOrderedId();
    const other = timeOrderedId();
    for (const [known, headers] of [
      [undefined, { traceparent: `00-${trace}-${span}-01`, 'x-moat-trace': trace }],
      [trace, { traceparent: `00-${other}-${span}-01`, 'x-moat-trace': other }],
    ] as const) {
      const e = engine();
      expect(e.engine.decide(view(known, headers)).action).to.equal('allow');
      expect(e.read).to.include(headers.traceparent);
      expect(e.read).to.include(headers['x-moat-trace']);
    }
  });
});
