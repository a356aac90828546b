// moat-policy's DLP reads every part of a request as the server will (issue 16): path, query, headers and
// body, each in its decoded views, with the real detectors (hops/dlp/index.ts), as hops/policy/runtime.ts wires them.
import { expect } from 'chai';
import { PolicyEngine, type PolicySettings, type SecretScanner } from '../../../../hops/policy/engine';
import { UsageBook } from '../../../../hops/policy/usage-book';
import { findSecretsDecoded, type DlpLabel } from '../../../../hops/dlp';
import type { PolicyRule } from '../../../../schemas/generated/chain-config';
import type { RequestView } from '../../../../hops/logic/view';
import { fake } from '../../../helpers/fake-secrets';

const key = fake.awsAccessKey();
const placeholder = fake.awsAccessKey();
const hook = new URL(fake.slackWebhook()).pathname;
const pct = (s: string) => [...s].map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
const real: SecretScanner = (text, labels, options) =>
  findSecretsDecoded(text, labels as DlpLabel[] | undefined, [placeholder], options);

function engine(rules: PolicyRule[] = [], scan: SecretScanner = real, extra: Partial<PolicySettings> = {}) {
  const settings: PolicySettings = {
    mode: 'enforce',
    rules,
    dlp: { enabled: true },
    inspectMaxBytes: 1 << 20,
    oversize: 'deny',
    prices: {},
    ...extra,
  };
  return new PolicyEngine(settings, { now: () => 0, scan, usage: new UsageBook() });
}
const req = (path: string, headers: Record<string, string> = {}): RequestView => ({
  method: 'POST',
  scheme: 'https',
  host: 'api.example.test',
  port: 443,
  path,
  headers,
  trace: 't',
});
const body = (t: string) => ({ text: t, complete: true });

describe('moat-policy DLP: every part of a request, decoded (no sockets)', () => {
  const BLOCKED: { name: string; view: RequestView; body?: string; where: string }[] = [
    { name: 'key-shaped path segment', view: req(`/v1/${key}/x`), where: 'path' },
    { name: 'Slack webhook path', view: req(hook), where: 'path' },
    { name: 'percent-encoded path segment', view: req(`/v1/${pct(key)}`), where: 'path' },
    { name: 'query parameter, percent-encoded', view: req(`/v1/x?a=1&key=${pct(key)}`), where: 'query' },
    { name: 'custom header', view: req('/v1/x', { 'x-data': key }), where: 'header x-data' },
    {
      name: 'custom header, base64',
      view: req('/v1/x', { 'x-data': Buffer.from(`k=${key}`).toString('base64') }),
      where: 'header x-data',
    },
    { name: 'credential-named header', view: req('/v1/x', { 'x-auth-token': key }), where: 'header x-auth-token' },
    {
      name: 'authorization with a real key',
      view: req('/v1/x', { authorization: `Bearer ${key}` }),
      where: 'header authorization',
    },
    {
      name: 'JSON \\u escape in the body',
      view: req('/v1/x', { 'content-type': 'application/json' }),
      body: `{"c":"\\u0041${key.slice(1)}"}`,
      where: 'body',
    },
    {
      name: 'form field in the body',
      view: req('/v1/x', { 'content-type': 'application/x-www-form-urlencoded' }),
      body: `a=b&k=${pct(key)}`,
      where: 'body',
    },
    {
      name: 'UTF-16 body',
      view: req('/v1/x', { 'content-type': 'text/plain' }),
      body: Buffer.from(`\ufeffk=${key}`, 'utf16le').toString('latin1'),
      where: 'body',
    },
  ];
  for (const row of BLOCKED) {
    it(`blocks a key in the ${row.name}`, () => {
      const v = engine().decide(row.view, row.body === undefined ? undefined : body(row.body));
      expect(v).to.deep.include({
        action: 'deny',
        kind: 'dlp_blocked',
        rule: 'dlp',
        reason: `request ${row.where} contains ${v.label}`,
      });
      expect(v.reason).not.to.contain(key);
    });
  }

  it("leaves the grants' placeholders, the chain's token header and plain requests alone", () => {
    expect(
      engine().decide(
        req('/v1/messages', {
          'x-api-key': placeholder,
          'proxy-authorization': `Basic ${key}`,
          'content-type': 'application/json',
        }),
        body('{"a":1}'),
      ).action,
    ).to.equal('allow');
  });

  it('a rule with dlp: false exempts path, query and headers too', () => {
    const e = engine([{ match: 'api.example.test/*', action: 'allow', dlp: false }]);
    expect(e.decide(req(`/v1/${key}?k=${key}`, { 'x-data': key })).action).to.equal('allow');
  });

  it('a part DLP cannot read within its bounds is refused (body_not_inspectable), unless oversize: allow', () => {
    const partial: SecretScanner = (text) => ({
      findings: [],
      complete: !text.startsWith('deep'),
      reason: 'decoding would exceed 10 characters',
    });
    const deny = engine([], partial).decide(req('/v1/x', { 'x-data': 'deep...' }));
    expect(deny).to.deep.include({
      action: 'deny',
      kind: 'body_not_inspectable',
      status: 415,
      reason: 'the header x-data cannot be inspected: decoding would exceed 10 characters',
    });
    expect(engine([], partial).decide(req('/v1/x'), body('deep body')).kind).to.equal('body_not_inspectable');
    expect(
      engine([], partial, { oversize: 'allow' }).decide(req('/v1/x', { 'x-data': 'deep...' }), body('deep')).action,
    ).to.equal('allow');
  });
});

describe('moat-policy DLP: header names and the host header (no sockets)', () => {
  it('a key sent as a header name is blocked, and recorded masked', async () => {
    const { recordableHeaders } = await import('../../../../hops/events/recordable');
    const slack = fake.slackBotToken();
    expect(engine().decide(req('/v1/x', { [slack]: '1' }))).to.deep.include({
      kind: 'dlp_blocked',
      reason: 'request header name contains slack_token',
    });
    expect(recordableHeaders({ [slack]: '1' })).to.deep.equal({ '[REDACTED:slack_token]': '[REDACTED]' });
  });
});
