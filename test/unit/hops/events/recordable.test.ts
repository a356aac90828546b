// The recordable form of a request's target and headers (issue 16): what records and log lines show.
import { expect } from 'chai';
import { recordablePath, recordableHeaders, recordableTarget } from '../../../../hops/events/recordable';
import { telemetryLine } from '../../../../hops/telemetry/hop';
import { REDACTED } from '../../../../hops/events/redact';
import { fake } from '../../../helpers/fake-secrets';

const key = fake.awsAccessKey();
const anthropic = fake.anthropicKey();
const hook = new URL(fake.slackWebhook()).pathname;

describe('recordable target and headers (no sockets)', () => {
  const PATHS: [string, string, RegExp][] = [
    ['Slack webhook path', hook, /^\/\[REDACTED:slack_token\]$/],
    ['key-shaped segment', `/v1/${anthropic}/x`, /^\/v1\/\[REDACTED:anthropic_key\]\/x$/],
    ['percent-encoded key segment', `/v1/%41${key.slice(1)}/x`, /^\/v1\/\[REDACTED:aws_access_key\]\/x$/],
    ['base64 key segment', `/v1/${Buffer.from(key).toString('base64url')}`, /^\/v1\/\[REDACTED:aws_access_key\]$/],
    ['query dropped', `/v1/x?key=${key}&a=b`, /^\/v1\/x$/],
    ['plain path kept', '/v1/messages', /^\/v1\/messages$/],
  ];
  for (const [name, path, want] of PATHS) it(`path: ${name}`, () => expect(recordablePath(path)).to.match(want));

  it('headers: credential names redacted, DLP findings masked in every other value', () => {
    const out = recordableHeaders(
      {
        'X-Auth-Token': 'abc',
        'private-token': 'glpat-x',
        'x-amz-security-token': 'FwoG',
        'x-csrf-token': 't',
        'x-my-secret': 's',
        'x-session-id': 'z',
        'x-custom': `key ${key}`,
        'x-b64': Buffer.from(key).toString('base64'),
        location: `https://hooks.slack.com${hook}`,
        'content-type': 'application/json',
        'x-moat-trace': 'ab'.repeat(16),
        'x-grant': 'g',
      },
      { redactHeaders: ['x-grant'] },
    );
    expect(out).to.deep.equal({
      'x-auth-token': REDACTED,
      'private-token': REDACTED,
      'x-amz-security-token': REDACTED,
      'x-csrf-token': REDACTED,
      'x-my-secret': REDACTED,
      'x-session-id': REDACTED,
      'x-custom': 'key [REDACTED:aws_access_key]',
      'x-b64': '[REDACTED:aws_access_key]=',
      location: '[REDACTED:slack_token]',
      'content-type': 'application/json',
      'x-moat-trace': 'ab'.repeat(16),
      'x-grant': REDACTED,
    });
  });

  it('placeholders stay readable', () => {
    expect(recordableHeaders({ 'x-custom': key }, { placeholders: [key] })).to.deep.equal({ 'x-custom': key });
  });

  it("log lines: the policy target and moat-telemetry's line show the recordable path", () => {
    expect(recordableTarget({ method: 'POST', host: 'hooks.slack.com', path: hook })).to.equal(
      'POST hooks.slack.com/[REDACTED:slack_token]',
    );
    const line = telemetryLine({
      request: {
        method: 'POST',
        scheme: 'https',
        host: 'hooks.slack.com',
        port: 443,
        path: hook,
        headers: {},
        trace: 't',
      },
      status: 200,
      requestBytes: 1,
      responseBytes: 1,
      ttfbMs: 1,
      durationMs: 1,
    });
    expect(line).to.contain('path=/[REDACTED:slack_token]');
    expect(line).not.to.contain(hook.split('/').pop()!);
  });
});
