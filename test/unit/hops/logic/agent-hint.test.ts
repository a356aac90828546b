// The sentence every denial says to the agent (hops/logic/agent-hint.ts), for each denial kind, through the code that
// answers it: moat-policy's hop (rules, limits, DLP, MCP, blind tunnels, fail closed), admission's egress.allow and
// egress's address guard. Each sentence names what was refused, the rule and the reason, says that going round moat
// fails too, and never holds the secret DLP found nor the request's body. No sockets.
import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import {
  agentHint,
  ambiguityHint,
  CREDENTIAL_HINT,
  deniedTools,
  deniedWhat,
  NO_WAY_ROUND,
  type DenialCode,
} from '../../../../hops/logic/agent-hint';
import { admit } from '../../../../hops/logic/admission';
import { describeFailure } from '../../../../hops/logic/failure';
import { LINK_ERRORS } from '../../../../hops/logic/link-errors';
import type { RequestDecision, RequestView } from '../../../../hops/logic/view';
import { AddressRefusedError } from '../../../../hops/runtime/egress-dial';
import { findSecretsDecoded } from '../../../../hops/dlp';
import { DENIAL_STATUS, type SecretScanner } from '../../../../hops/policy/engine';
import { policyHop } from '../../../../hops/policy/hop';
import type { LinkSpec } from '../../../../hops/spec';
import type { PolicyLimit, PolicyRule } from '../../../../schemas/generated/chain-config';
import { policyView, testPolicyEngine } from '../../../helpers/policy-engine';
import { fake } from '../../../helpers/fake-secrets';

const KEY = fake.awsAccessKey();
// The real detectors: what they find is what must never be repeated.
const realScan: SecretScanner = (text, labels, options) =>
  findSecretsDecoded(text, labels as never, [], options) as ReturnType<SecretScanner>;
const MONDAY = Date.parse('2026-11-23T10:30:00Z');

const view = policyView;
const sized = (host: string, path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  view(host, path, { headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } });
const hop = (rules: PolicyRule[], scan: SecretScanner = realScan) =>
  policyHop(testPolicyEngine(rules, {}, () => MONDAY, scan));
const send = (rules: PolicyRule[], v: RequestView, body?: string | Buffer, complete = true) =>
  hop(rules).onRequest!(v, body === undefined ? undefined : { bytes: Buffer.from(body), complete });

interface Answer {
  status: number;
  body: Record<string, any>;
  /** The sentence: `message`, or the JSON-RPC error's message for MCP. */
  sentence: string;
}

function answered(d: RequestDecision): Answer {
  if (d.action !== 'respond') throw new Error(`expected a denial, got ${JSON.stringify(d)}`);
  const body = d.body as Record<string, any>;
  return { status: d.status, body, sentence: body.error?.message ?? body.message };
}

interface Row {
  code: DenialCode;
  name: string;
  answer: () => Answer;
  /** In the sentence, in this order: what, who decided and why, what to do. */
  says: string[];
  /** Never in the sentence. */
  never?: string[];
  /** policy_error: the body's `reason` (not the sentence) carries the evaluator's own error, as before. */
  reasonQuotesError?: boolean;
}

const EGRESS = { allow: ['api.anthropic.com'], resolve: {}, extraCa: [], timeoutMs: 1000 };
const egressSpec: Pick<LinkSpec, 'role' | 'hop' | 'name' | 'egress' | 'onward'> = {
  role: 'egress',
  hop: 3,
  name: 'egress',
  egress: EGRESS,
  onward: { kind: 'internet' },
};

/** An allow rule with one limit. */
const limited = (id: string, match: string, limit: PolicyLimit): PolicyRule => ({
  id,
  match,
  action: 'allow',
  policies: [limit],
});

const rows: Row[] = [
  {
    code: 'policy_denied',
    name: 'a deny rule (the query, which may hold a key, is not repeated)',
    answer: () =>
      answered(
        send(
          [{ id: 'internal', match: '*.internal.test/*', action: 'deny', reason: 'internal APIs are off limits' }],
          view('x.internal.test', `/v1/models?key=${KEY}`, { method: 'GET' }),
        ),
      ),
    says: ['moat denied GET x.internal.test', '(rule internal: internal APIs are off limits)', 'stop, or ask the user'],
    never: [KEY, '/v1/models'],
  },
  {
    code: 'policy_denied',
    name: 'an MCP tool call: the JSON-RPC error message',
    answer: () => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'delete_file' } });
      const a = answered(
        send(
          [{ id: 'no-deletes', match: 'mcp.test/*', tool: 'delete_*', action: 'deny', reason: 'no deleting' }],
          sized('mcp.test', '/mcp', body),
          body,
        ),
      );
      expect(a.status).to.equal(200);
      expect(a.body.error).to.deep.include({ code: -32001, data: { rule: 'no-deletes', reason: 'no deleting' } });
      return a;
    },
    says: ['moat denied the MCP tool call delete_file on mcp.test', '(rule no-deletes: no deleting)'],
    never: ['jsonrpc', 'tools/call'],
  },
  {
    code: 'rate_limited',
    name: 'a rate limit: wait, then retry through moat',
    answer: () => {
      const h = hop([limited('slow', 'slow.test/*', { type: 'rate_limit', max_requests_per_minute: 1 })]);
      expect(h.onRequest!(view('slow.test', '/')).action).to.equal('forward');
      return answered(h.onRequest!(view('slow.test', '/')));
    },
    says: ['moat denied POST slow.test', '(rule slow: rate limit: 1 requests per minute', 'then retry through moat'],
  },
  {
    code: 'outside_allowed_hours',
    name: 'a time restriction',
    answer: () =>
      answered(
        send(
          [limited('weekends', '*', { type: 'time_restriction', allowed_days: ['sat', 'sun'], time_zone: 'UTC' })],
          view('a.test', '/'),
        ),
      ),
    says: ['moat denied POST a.test', '(rule weekends: time restriction: not allowed on mon', 'stop, or ask the user'],
  },
  {
    code: 'budget_exhausted',
    name: 'a spent budget (the prompt is not repeated)',
    answer: () => {
      const h = hop([limited('daily', 'api.anthropic.com/*', { type: 'spending_limit', max_tokens: 10 })]);
      const body = JSON.stringify({ model: 'claude-x', messages: [{ role: 'user', content: 'my private prompt' }] });
      const v = sized('api.anthropic.com', '/v1/messages', body);
      expect(h.onRequest!(v, { bytes: Buffer.from(body), complete: true }).action).to.equal('forward');
      const usage = JSON.stringify({ model: 'claude-x', usage: { input_tokens: 8, output_tokens: 4 } });
      h.onResponse!(v, {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: { bytes: () => Buffer.from(usage), truncated: false },
      });
      const again = sized('api.anthropic.com', '/v1/messages', body);
      return answered(h.onRequest!(again, { bytes: Buffer.from(body), complete: true }));
    },
    says: [
      'moat denied POST api.anthropic.com',
      '(rule daily: spending limit: 12 of 10 tokens',
      "today's budget is spent",
    ],
    never: ['my private prompt'],
  },
  ...(['body', 'path', 'query', 'header'] as const).map((where): Row => ({
    code: 'dlp_blocked',
    name: `DLP: a key in the ${where}`,
    answer: () => {
      const body = where === 'body' ? JSON.stringify({ note: `deploy with ${KEY}` }) : '';
      const path = where === 'path' ? `/v1/${KEY}` : where === 'query' ? `/v1/x?k=${KEY}` : '/v1/x';
      const headers: Record<string, string> = where === 'header' ? { 'x-note': KEY } : {};
      const v = body ? sized('open.test', path, body, headers) : view('open.test', path, { headers });
      return answered(send([], v, body || undefined));
    },
    says: ['moat denied POST open.test', '(DLP: request ', 'contains aws_access_key', 'do not send the secret'],
    never: [KEY, 'deploy with', '/v1/'],
  })),
  {
    code: 'dlp_blocked',
    name: 'DLP: a key in a gzip body',
    answer: () => {
      const raw = gzipSync(Buffer.from(`{"note":"${KEY}"}`));
      return answered(send([], sized('open.test', '/', raw, { 'content-encoding': 'gzip' }), raw));
    },
    says: ['(DLP: request body contains aws_access_key)'],
    never: [KEY, 'note'],
  },
  {
    code: 'body_too_large_to_inspect',
    name: 'a body longer than inspect_max_bytes',
    answer: () => {
      const big = 'word '.repeat(400);
      return answered(send([], sized('open.test', '/', big), big.slice(0, 1024), false));
    },
    says: ['moat denied POST open.test', '(DLP: the body is longer than policy.inspect_max_bytes (1024)'],
    never: ['word word'],
  },
  {
    code: 'body_not_inspectable',
    name: 'a body that cannot be decoded',
    answer: () => {
      const broken = 'not gzip at all';
      return answered(send([], sized('open.test', '/', broken, { 'content-encoding': 'gzip' }), broken));
    },
    says: ['moat denied POST open.test', '(DLP: the body cannot be inspected'],
    never: ['not gzip at all'],
  },
  {
    code: 'policy_error',
    name: 'the evaluator failed: its error, which may quote the body, is not repeated',
    answer: () => {
      const failing: SecretScanner = (text) => {
        throw new Error(`cannot read ${text}`);
      };
      const body = `secret ${KEY}`;
      return answered(
        hop([], failing).onRequest!(sized('open.test', '/', body), { bytes: Buffer.from(body), complete: true }),
      );
    },
    says: ['moat denied POST open.test', '(moat-policy: its evaluator failed, so it denies (fail closed))'],
    never: [KEY, 'cannot read'],
    reasonQuotesError: true,
  },
  {
    code: 'blind_tunnel_undecidable',
    name: 'a blind tunnel a path rule cannot decide',
    answer: () =>
      answered(
        hop([{ id: 'paths', match: 'a.test/admin/*', action: 'deny' }]).onTunnel!(
          view('a.test', '', { method: 'CONNECT' }),
        ),
      ),
    says: ['moat denied a tunnel to a.test:443', '(rule paths: rule paths decides a.test by path'],
  },
  {
    code: 'egress_denied',
    name: 'egress.allow, for a request',
    answer: () => {
      const a = admit(egressSpec, view('evil.test', `/x?k=${KEY}`), { action: 'forward' }, false);
      if (a.action !== 'respond') throw new Error('expected a refusal');
      return { status: a.status, body: a.body as Record<string, any>, sentence: (a.body as any).message };
    },
    says: [
      'moat denied POST evil.test',
      '(egress.allow: egress may not connect to evil.test (egress.allow: api.anthropic.com))',
      'ask the user to allow the host',
    ],
    never: [KEY],
  },
  {
    code: 'egress_denied',
    name: 'egress.allow, for a tunnel',
    answer: () => {
      const a = admit(
        egressSpec,
        view('evil.test', '', { method: 'CONNECT', port: 8443 }),
        { action: 'forward' },
        false,
      );
      if (a.action !== 'respond') throw new Error('expected a refusal');
      return { status: a.status, body: a.body as Record<string, any>, sentence: (a.body as any).message };
    },
    says: ['moat denied a tunnel to evil.test:8443', '(egress.allow: egress may not connect to evil.test'],
  },
  {
    code: 'egress_address_refused',
    name: "egress's address guard",
    answer: () => {
      const f = describeFailure(new AddressRefusedError('rebind.test', 'loopback'), false, undefined, 'rebind.test');
      return { status: f.status, body: f, sentence: f.message };
    },
    says: [
      'moat denied a connection to rebind.test',
      '(egress address guard: egress refused to connect to rebind.test: it resolves to',
      'ask the user to allow the host',
    ],
  },
];

describe('denials tell the agent what was refused and that going round moat fails too', () => {
  it('the table covers every denial kind, each a link error code', () => {
    const kinds = [...Object.keys(DENIAL_STATUS), 'egress_denied', 'egress_address_refused'].sort();
    expect([...new Set(rows.map((r) => r.code))].sort()).to.deep.equal(kinds);
    for (const k of kinds) expect(LINK_ERRORS, k).to.have.property(k);
  });

  for (const row of rows) {
    it(`${row.code}: ${row.name}`, () => {
      const { body, sentence } = row.answer();
      // The codes stay where clients read them.
      const code = typeof body.error === 'string' ? body.error : 'policy_denied';
      expect(code).to.equal(row.code);
      expect(sentence, 'one line')
        .to.be.a('string')
        .and.not.match(/[\r\n]/);
      expect(sentence).to.match(/^moat denied /);
      expect(sentence.endsWith('.'), sentence).to.equal(true);
      expect(sentence).to.contain(NO_WAY_ROUND);
      let at = 0;
      for (const part of row.says) {
        const found = sentence.indexOf(part, at);
        expect(found, `"${part}" in order in: ${sentence}`).to.be.at.least(0);
        at = found + part.length;
      }
      for (const secret of row.never ?? []) expect(sentence, 'no secret, no body').to.not.contain(secret);
      // Nor anywhere else in the answer: the other fields hold labels, rule ids and configuration only.
      if (!row.reasonQuotesError) expect(JSON.stringify(body)).to.not.contain(KEY);
    });
  }
});

describe('refusals before any rule: a missing credential, an ambiguous path', () => {
  it('tell the agent that going round moat fails too, and what to do instead', () => {
    expect(CREDENTIAL_HINT).to.contain(NO_WAY_ROUND).and.to.contain('moat chain run');
    const text = ambiguityHint('ingress', 'an encoded slash (%2F)', '; an API that needs it: ...');
    expect(text).to.contain(NO_WAY_ROUND).and.to.contain('plain form').and.to.contain('%2F');
    expect(text.startsWith('moat ingress: the request path is ambiguous: an encoded slash (%2F)')).to.equal(true);
  });
});

describe('agentHint (pure)', () => {
  it('names a request by method and host, a tunnel by host and port, never a path', () => {
    expect(deniedWhat({ method: 'GET', host: 'a.test' })).to.equal('GET a.test');
    expect(deniedWhat({ method: 'CONNECT', host: 'a.test', port: 8443 })).to.equal('a tunnel to a.test:8443');
    expect(deniedTools(['rm', 'rm', 'mv'], 'mcp.test')).to.equal('the MCP tool calls rm, mv on mcp.test');
  });

  it('a rate limit without a known wait still says to retry through moat, not round it', () => {
    const s = agentHint({ code: 'rate_limited', what: 'GET a.test', rule: 'r', reason: 'rate limit' });
    expect(s).to.equal(`moat denied GET a.test (rule r: rate limit); ${NO_WAY_ROUND}: wait, then retry through moat.`);
  });
});
