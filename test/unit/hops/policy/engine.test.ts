import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { DENIAL_STATUS, PolicyEngine, type PolicySettings, type Verdict } from '../../../../hops/policy/engine';
import { LINK_ERRORS } from '../../../../supervisor/errors';
import { policyHop } from '../../../../hops/policy/hop';
import { UsageBook } from '../../../../hops/policy/usage-book';
import { globMatch } from '../../../../hops/logic/glob';
import type { PolicyRule } from '../../../../schemas/generated/chain-config';
import type { RequestView } from '../../../../hops/logic/view';
import { policyView, testPolicyEngine } from '../../../helpers/policy-engine';

// A scanner standing in for hops/dlp/index.ts's detectors here, so these rows test the evaluator alone.
const scan = (text: string) => (/AKIA[0-9A-Z]{16}/.test(text) ? [{ label: 'aws_access_key' }] : []);

function engine(
  rules: PolicyRule[],
  extra: Partial<PolicySettings> = {},
  clock = { now: Date.parse('2026-11-23T10:30:00Z') },
) {
  return testPolicyEngine(rules, extra, () => clock.now, scan);
}

const view = policyView;
const withBody = (host: string, path: string, body: string) =>
  view(host, path, { headers: { 'content-length': String(Buffer.byteLength(body)) } });
const text = (t: string) => ({ text: t, complete: true });
const toolCall = (name: string, id: number | string = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

describe('moat-policy rules (no sockets)', () => {
  // agentreserve's README example, as moat.yaml rules.
  const agentreserve: PolicyRule[] = [
    { match: 'api.openai.com/*', action: 'allow', policies: [{ type: 'rate_limit', max_requests_per_minute: 60 }] },
    { match: 'api.anthropic.com/*', action: 'allow', policies: [{ type: 'rate_limit', max_requests_per_minute: 30 }] },
    { match: '*.internal.company.com/*', action: 'deny', reason: 'Internal APIs are not accessible to agents' },
    { match: '*.amazonaws.com/iam/*', action: 'deny', reason: 'IAM modifications blocked for agents' },
    { match: '*', action: 'log' },
  ];
  const mcp: PolicyRule[] = [
    {
      id: 'no-deletes',
      match: 'mcp.files.test/*',
      tool: 'delete_*',
      action: 'deny',
      reason: 'agents may not delete files',
    },
    { match: 'mcp.files.test/*', action: 'allow' },
  ];
  const rows: { name: string; rules: PolicyRule[]; view: RequestView; body?: string; want: Partial<Verdict> }[] = [
    {
      name: 'agentreserve: openai allowed under its rate limit',
      rules: agentreserve,
      view: view('api.openai.com', '/v1/chat/completions'),
      want: { action: 'allow', rule: 'rules[0]' },
    },
    {
      name: 'agentreserve: internal API denied with its reason',
      rules: agentreserve,
      view: view('wiki.internal.company.com', '/page'),
      want: {
        action: 'deny',
        rule: 'rules[2]',
        kind: 'policy_denied',
        status: 403,
        reason: 'Internal APIs are not accessible to agents',
      },
    },
    {
      name: 'agentreserve: IAM paths denied',
      rules: agentreserve,
      view: view('iam.amazonaws.com', '/iam/users/x'),
      want: { action: 'deny', rule: 'rules[3]' },
    },
    {
      name: 'agentreserve: other amazonaws paths fall to log (agentreserve 0.1.0 would deny the whole host)',
      rules: agentreserve,
      view: view('s3.amazonaws.com', '/bucket/key'),
      want: { action: 'log', rule: 'rules[4]' },
    },
    {
      name: 'agentreserve: anything else is logged',
      rules: agentreserve,
      view: view('example.org', '/'),
      want: { action: 'log', rule: 'rules[4]' },
    },
    {
      name: 'query strings are not part of the match',
      rules: [{ id: 'models', match: 'api.anthropic.com/v1/models', action: 'deny' }],
      view: view('api.anthropic.com', '/v1/models?key=x'),
      want: { action: 'deny', rule: 'models' },
    },
    {
      name: 'no rule matched allows',
      rules: [{ match: 'a.test/*', action: 'deny' }],
      view: view('b.test', '/'),
      want: { action: 'allow', rule: undefined, reason: 'no rule matched' },
    },
    {
      name: 'first match wins',
      rules: [
        { match: 'a.test/*', action: 'allow' },
        { match: 'a.test/*', action: 'deny' },
      ],
      view: view('a.test', '/x'),
      want: { action: 'allow', rule: 'rules[0]' },
    },
    {
      name: 'MCP: tools/call of a denied tool',
      rules: mcp,
      view: withBody('mcp.files.test', '/mcp', toolCall('delete_file')),
      body: toolCall('delete_file'),
      want: { action: 'deny', rule: 'no-deletes', toolCalls: [{ id: 1, tool: 'delete_file' }], batch: false },
    },
    {
      name: 'MCP: another tool passes the deny rule',
      rules: mcp,
      view: withBody('mcp.files.test', '/mcp', toolCall('read_file')),
      body: toolCall('read_file'),
      want: { action: 'allow', rule: 'rules[1]' },
    },
    {
      name: 'MCP: a batch with a denied call',
      rules: mcp,
      view: withBody('mcp.files.test', '/mcp', `[${toolCall('read_file', 1)},${toolCall('delete_dir', 'b')}]`),
      body: `[${toolCall('read_file', 1)},${toolCall('delete_dir', 'b')}]`,
      want: { action: 'deny', toolCalls: [{ id: 'b', tool: 'delete_dir' }], batch: true },
    },
    {
      name: 'MCP: tools/list is no tool call',
      rules: mcp,
      view: withBody('mcp.files.test', '/mcp', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'),
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      want: { action: 'allow', rule: 'rules[1]' },
    },
    {
      name: 'MCP: a tool rule on another server does not apply',
      rules: mcp,
      view: withBody('mcp.other.test', '/mcp', toolCall('delete_file')),
      body: toolCall('delete_file'),
      want: { action: 'allow', rule: undefined },
    },
    {
      name: 'DLP: an AWS key in the body is blocked with its label',
      rules: [],
      view: withBody('api.anthropic.com', '/v1/messages', 'key AKIAABCDEFGHIJKLMNOP'),
      body: 'key AKIAABCDEFGHIJKLMNOP',
      want: { action: 'deny', rule: 'dlp', kind: 'dlp_blocked', status: 403, label: 'aws_access_key' },
    },
    {
      name: 'DLP: a rule with dlp: false lets a key through to its host',
      rules: [{ match: 'sts.amazonaws.com/*', action: 'allow', dlp: false }],
      view: withBody('sts.amazonaws.com', '/', 'AKIAABCDEFGHIJKLMNOP'),
      body: 'AKIAABCDEFGHIJKLMNOP',
      want: { action: 'allow' },
    },
    {
      name: 'methods: a rule for GET passes a POST on to the next rule',
      rules: [
        { match: 'api.test/v1/*', methods: ['GET'], action: 'allow' },
        { match: '*', action: 'deny', reason: 'rest' },
      ],
      view: view('api.test', '/v1/items'),
      want: { action: 'deny', rule: 'rules[1]' },
    },
    {
      name: 'methods: a rule for GET and POST decides a POST',
      rules: [
        { match: 'api.test/v1/*', methods: ['GET', 'POST'], action: 'allow' },
        { match: '*', action: 'deny' },
      ],
      view: view('api.test', '/v1/items'),
      want: { action: 'allow', rule: 'rules[0]' },
    },
    {
      name: 'methods: the method is read in upper case',
      rules: [{ match: 'api.test/*', methods: ['DELETE'], action: 'deny' }],
      view: view('api.test', '/x', { method: 'delete' }),
      want: { action: 'deny', kind: 'policy_denied' },
    },
    {
      name: 'methods: dlp: false on a rule for GET does not exempt a POST',
      rules: [{ match: 'sts.amazonaws.com/*', methods: ['GET'], action: 'allow', dlp: false }],
      view: withBody('sts.amazonaws.com', '/', 'AKIAABCDEFGHIJKLMNOP'),
      body: 'AKIAABCDEFGHIJKLMNOP',
      want: { action: 'deny', kind: 'dlp_blocked' },
    },
    {
      name: 'methods: a POST that overrides its method to DELETE is read as a DELETE by a deny rule',
      rules: [
        { match: 'api.test/*', methods: ['DELETE'], action: 'deny' },
        { match: '*', action: 'allow' },
      ],
      view: view('api.test', '/x', { headers: { 'x-http-method-override': 'delete' } }),
      want: { action: 'deny', rule: 'rules[0]' },
    },
    {
      name: 'methods: an allow rule applies only when every method a server may read is named',
      rules: [
        { match: 'api.test/*', methods: ['GET', 'POST'], action: 'allow' },
        { match: '*', action: 'deny' },
      ],
      view: view('api.test', '/x', { headers: { 'x-method-override': 'GET, PUT' } }),
      want: { action: 'deny', rule: 'rules[1]' },
    },
    {
      name: 'DLP: a deny rule answers before the scan',
      rules: [{ match: 'x.test/*', action: 'deny' }],
      view: withBody('x.test', '/', 'AKIAABCDEFGHIJKLMNOP'),
      body: 'AKIAABCDEFGHIJKLMNOP',
      want: { action: 'deny', kind: 'policy_denied' },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const v = engine(row.rules).decide(row.view, row.body === undefined ? undefined : text(row.body));
      for (const [k, value] of Object.entries(row.want)) expect((v as any)[k], k).to.deep.equal(value);
    });
  }

  it('rate_limit: the 61st request in a minute gets 429 with Retry-After; a minute later it passes again', () => {
    const clock = { now: Date.parse('2026-11-23T10:30:00Z') };
    const e = engine(
      [
        {
          id: 'openai',
          match: 'api.openai.com/*',
          action: 'allow',
          policies: [{ type: 'rate_limit', max_requests_per_minute: 60 }],
        },
      ],
      {},
      clock,
    );
    const v = view('api.openai.com', '/v1/chat/completions');
    for (let i = 0; i < 60; i++) {
      const ok = e.decide(v);
      expect(ok.action).to.equal('allow');
      e.admit(ok);
      clock.now += 500; // 60 requests over 30 s
    }
    const denied = e.decide(v);
    expect(denied).to.include({ action: 'deny', kind: 'rate_limited', status: 429, rule: 'openai', retryAfterS: 30 });
    // per host: other hosts are not in this window
    expect(e.decide(view('other.openai.com', '/'))).to.include({ action: 'allow' });
    clock.now += 30_001; // the first request left the window
    expect(e.decide(v).action).to.equal('allow');
  });

  it('rate_limit: requests that were denied do not fill the window', () => {
    const clock = { now: 0 };
    const e = engine(
      [{ match: '*', action: 'allow', policies: [{ type: 'rate_limit', max_requests_per_minute: 1 }] }],
      {},
      clock,
    );
    e.admit(e.decide(view('a.test', '/')));
    for (let i = 0; i < 5; i++) expect(e.decide(view('a.test', '/')).action).to.equal('deny');
    clock.now = 60_001;
    expect(e.decide(view('a.test', '/')).action).to.equal('allow');
  });

  const hours: [string, string, boolean][] = [
    ['2026-11-23T08:59:59Z', 'Monday 08:59 UTC, before the window', false],
    ['2026-11-23T09:00:00Z', 'Monday 09:00 UTC', true],
    ['2026-11-23T16:59:59Z', 'Monday 16:59 UTC', true],
    ['2026-11-23T17:00:00Z', 'Monday 17:00 UTC, the end is exclusive', false],
    ['2026-11-22T12:00:00Z', 'Sunday noon, not an allowed day', false],
  ];
  for (const [instant, label, allowed] of hours) {
    it(`time_restriction 9-17 mon-fri UTC: ${label} -> ${allowed ? 'allow' : 'deny'}`, () => {
      const e = engine(
        [
          {
            match: '*',
            action: 'allow',
            policies: [
              {
                type: 'time_restriction',
                allowed_hours_start: 9,
                allowed_hours_end: 17,
                allowed_days: ['mon', 'tue', 'wed', 'thu', 'fri'],
                time_zone: 'UTC',
              },
            ],
          },
        ],
        {},
        { now: Date.parse(instant) },
      );
      const v = e.decide(view('a.test', '/'));
      expect(v.action).to.equal(allowed ? 'allow' : 'deny');
      if (!allowed) expect(v).to.include({ kind: 'outside_allowed_hours', status: 403 });
    });
  }

  it('time_restriction: a window past midnight, in the named time zone', () => {
    const rule: PolicyRule = {
      match: '*',
      action: 'allow',
      policies: [{ type: 'time_restriction', allowed_hours_start: 22, allowed_hours_end: 6, time_zone: 'Asia/Tokyo' }],
    };
    // 14:00 UTC is 23:00 in Tokyo (inside), 00:00 UTC is 09:00 there (outside).
    expect(engine([rule], {}, { now: Date.parse('2026-11-23T14:00:00Z') }).decide(view('a.test', '/')).action).to.equal(
      'allow',
    );
    const v = engine([rule], {}, { now: Date.parse('2026-11-23T00:00:00Z') }).decide(view('a.test', '/'));
    expect(v.action).to.equal('deny');
    expect(v.reason).to.contain('Asia/Tokyo').and.contain('now 9:xx');
  });

  describe('spending_limit', () => {
    const messages = (model: string) =>
      JSON.stringify({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const usage = (model: string, input: number, output: number) => ({
      adapter: 'anthropic-messages' as const,
      model,
      input_tokens: input,
      output_tokens: output,
    });
    const req = (model: string) => withBody('api.anthropic.com', '/v1/messages', messages(model));

    it('a token budget per host: usage from responses fills it; then 429 until midnight', () => {
      const clock = { now: Date.parse('2026-11-23T23:00:00Z') };
      const e = engine(
        [
          {
            id: 'anthropic',
            match: 'api.anthropic.com/*',
            action: 'allow',
            policies: [{ type: 'spending_limit', max_tokens: 1000, time_zone: 'UTC' }],
          },
        ],
        {},
        clock,
      );
      const first = e.decide(req('claude-a'), text(messages('claude-a')));
      expect(first.action).to.equal('allow');
      expect(e.recordUsage(req('claude-a'), first, usage('claude-a', 600, 300))).to.equal(true);
      const second = e.decide(req('claude-b'), text(messages('claude-b')));
      expect(second.action).to.equal('allow'); // 900 of 1000
      e.recordUsage(req('claude-b'), second, usage('claude-b', 50, 50));
      const third = e.decide(req('claude-a'), text(messages('claude-a')));
      expect(third).to.include({
        action: 'deny',
        kind: 'budget_exhausted',
        status: 429,
        retryAfterS: 3600,
        rule: 'anthropic',
      });
      expect(third.reason).to.contain('1000 of 1000 tokens');
      clock.now += 3600 * 1000; // a new day in UTC
      expect(e.decide(req('claude-a'), text(messages('claude-a'))).action).to.equal('allow');
    });

    it('a money budget per model, priced from prices:', () => {
      const e = engine(
        [
          {
            match: 'api.anthropic.com/*',
            action: 'allow',
            policies: [{ type: 'spending_limit', max_amount: 0.01, currency: 'USD', per: 'model', time_zone: 'UTC' }],
          },
        ],
        { prices: { 'claude-big*': { input: 10, output: 50 }, 'claude-*': { input: 1, output: 1 } } },
      );
      const big = e.decide(req('claude-big-1'), text(messages('claude-big-1')));
      e.recordUsage(req('claude-big-1'), big, usage('claude-big-1', 500, 100)); // 0.005 + 0.005
      expect(e.decide(req('claude-big-1'), text(messages('claude-big-1')))).to.include({
        action: 'deny',
        kind: 'budget_exhausted',
      });
      expect(e.decide(req('claude-small'), text(messages('claude-small'))).action).to.equal('allow');
    });

    it('usage fills the budget of the rule that allowed the request, even after a reload moved the rule', () => {
      const budget: PolicyRule = {
        id: 'anthropic',
        match: 'api.anthropic.com/*',
        action: 'allow',
        policies: [{ type: 'spending_limit', max_tokens: 10, time_zone: 'UTC' }],
      };
      const e = engine([budget]);
      const v = e.decide(req('m'), text(messages('m')));
      e.update({
        ...e.current,
        rules: [
          {
            id: 'first',
            match: 'other.test/*',
            action: 'allow',
            policies: [{ type: 'spending_limit', max_tokens: 1, time_zone: 'UTC' }],
          },
          budget,
        ],
      });
      e.recordUsage(req('m'), v, usage('m', 8, 4));
      expect(e.decide(req('m'), text(messages('m')))).to.include({
        action: 'deny',
        kind: 'budget_exhausted',
        rule: 'anthropic',
      });
      expect(e.decide(view('other.test', '/')).action).to.equal('allow');
    });

    it('errors and unreadable usage fill no budget', () => {
      const e = engine([{ match: '*', action: 'allow', policies: [{ type: 'spending_limit', max_tokens: 1 }] }]);
      const v = e.decide(req('m'), text(messages('m')));
      expect(e.recordUsage(req('m'), v, undefined)).to.equal(false);
      expect(
        e.recordUsage(req('m'), v, { adapter: 'anthropic-messages', normalization_error: 'body is not JSON' }),
      ).to.equal(false);
      expect(e.decide(req('m'), text(messages('m'))).action).to.equal('allow');
    });
  });

  describe('bodies the evaluator cannot read', () => {
    it(
      'a body longer than inspect_max_bytes is denied with 413 ' + '(fail closed), or let through with oversize: allow',
      () => {
        const big = 'x'.repeat(2048);
        const v = withBody('a.test', '/', big);
        expect(engine([]).decide(v, { text: big.slice(0, 1024), complete: false })).to.include({
          action: 'deny',
          kind: 'body_too_large_to_inspect',
          status: 413,
        });
        expect(
          engine([], { oversize: 'allow' }).decide(v, { text: big.slice(0, 1024), complete: false }).action,
        ).to.equal('allow');
      },
    );

    it('a secret in the part that was read is still found when the rest was too long', () => {
      const v = engine([], { oversize: 'allow' }).decide(withBody('a.test', '/', 'x'), {
        text: 'AKIAABCDEFGHIJKLMNOP' + 'x'.repeat(2000),
        complete: false,
      });
      expect(v).to.include({ kind: 'dlp_blocked' });
    });

    it('an undecodable body is denied with 415', () => {
      expect(
        engine([]).decide(withBody('a.test', '/', 'x'), {
          text: '',
          complete: true,
          error: 'gzip body could not be inflated',
        }),
      ).to.include({ kind: 'body_not_inspectable', status: 415 });
    });

    it('wantsBody: only requests with a body, and not for a host whose rule turns DLP off', () => {
      const e = engine([{ match: 'quiet.test/*', action: 'allow', dlp: false }]);
      expect(e.wantsBody(view('a.test', '/'))).to.equal(false);
      expect(e.wantsBody(withBody('a.test', '/', 'x'))).to.equal(true);
      expect(e.wantsBody(withBody('quiet.test', '/', 'x'))).to.equal(false);
      expect(engine([], { dlp: { enabled: false } }).wantsBody(withBody('a.test', '/', 'x'))).to.equal(false);
    });
  });
});

describe('moat-policy hop: verdicts into responses, modes, fail closed (no sockets)', () => {
  const rules: PolicyRule[] = [
    { id: 'internal', match: '*.internal.example.com/*', action: 'deny', reason: 'internal APIs are off limits' },
    { id: 'trial', match: 'trial.test/*', action: 'deny', mode: 'report', reason: 'trying this rule' },
    { id: 'no-deletes', match: 'mcp.test/*', tool: 'delete_*', action: 'deny' },
    {
      id: 'limited',
      match: 'limited.test/*',
      action: 'allow',
      policies: [{ type: 'rate_limit', max_requests_per_minute: 1 }],
    },
  ];

  it('a deny answers 403 with error, rule and reason, and a log line without the query', () => {
    const d = policyHop(engine(rules)).onRequest!(view('x.internal.example.com', '/v1/models?key=hunter2'));
    expect(d.action).to.equal('respond');
    if (d.action !== 'respond') return;
    expect(d.status).to.equal(403);
    expect(d.body).to.deep.include({
      error: 'policy_denied',
      rule: 'internal',
      reason: 'internal APIs are off limits',
    });
    expect((d.body as any).message).to.match(/^moat denied POST x\.internal\.example\.com \(rule internal: /);
    expect(d.headers).to.deep.equal({ 'x-moat-error': 'policy_denied' });
    expect(d.decision).to.deep.equal({ action: 'deny', rule: 'internal', reason: 'internal APIs are off limits' });
    expect(d.log).to.contain('deny rule=internal').and.not.contain('hunter2');
  });

  it('rate limited: 429 with a Retry-After header and retry_after_s', () => {
    const hop = policyHop(engine(rules));
    expect(hop.onRequest!(view('limited.test', '/')).action).to.equal('forward');
    const d = hop.onRequest!(view('limited.test', '/'));
    if (d.action !== 'respond') throw new Error('expected a denial');
    expect(d.status).to.equal(429);
    expect(Number(d.headers!['retry-after'])).to.be.within(1, 60);
    expect((d.body as any).retry_after_s).to.equal(Number(d.headers!['retry-after']));
  });

  it('report mode forwards what it would deny and records would_deny with the rule', () => {
    const d = policyHop(engine(rules, { mode: 'report' })).onRequest!(view('x.internal.example.com', '/'));
    expect(d).to.deep.include({
      action: 'forward',
      decision: { action: 'would_deny', rule: 'internal', reason: 'internal APIs are off limits' },
    });
    expect(d.log).to.contain('would deny');
    // A rule's own mode wins over policy.mode.
    const t = policyHop(engine(rules)).onRequest!(view('trial.test', '/'));
    expect(t).to.deep.include({
      action: 'forward',
      decision: { action: 'would_deny', rule: 'trial', reason: 'trying this rule' },
    });
  });

  it('an MCP denial is a JSON-RPC error with the call id, at HTTP 200', () => {
    const body = toolCall('delete_repo', 7);
    const d = policyHop(engine(rules)).onRequest!(withBody('mcp.test', '/mcp', body), {
      bytes: Buffer.from(body),
      complete: true,
    });
    if (d.action !== 'respond') throw new Error('expected a denial');
    expect(d.status).to.equal(200);
    expect(d.body).to.deep.include({ jsonrpc: '2.0', id: 7 });
    expect((d.body as any).error.code).to.equal(-32001);
    expect((d.body as any).error.message).to.match(/^moat denied the MCP tool call delete_repo on mcp\.test \(rule /);
    expect(d.headers).to.deep.equal({ 'x-moat-error': 'policy_denied' });
    expect((d.body as any).error.data).to.deep.equal({
      rule: 'no-deletes',
      reason: 'tool delete_repo matched delete_* on mcp.test/*',
    });
  });

  it('a gzip body is inflated before the scan', () => {
    const raw = gzipSync(Buffer.from('{"note":"AKIAABCDEFGHIJKLMNOP"}'));
    const v = view('a.test', '/', { headers: { 'content-length': String(raw.length), 'content-encoding': 'gzip' } });
    const d = policyHop(engine([])).onRequest!(v, { bytes: raw, complete: true });
    expect(d).to.deep.include({ action: 'respond', status: 403 });
    expect((d as any).body).to.deep.include({
      error: 'dlp_blocked',
      rule: 'dlp',
      reason: 'request body contains aws_access_key',
      label: 'aws_access_key',
    });
  });

  it('an error inside the evaluator denies (fail closed) with its own reason', () => {
    const broken = new PolicyEngine(
      { mode: 'enforce', rules: [], dlp: { enabled: true }, inspectMaxBytes: 1024, oversize: 'deny', prices: {} },
      {
        now: () => 0,
        scan: () => {
          throw new Error('detector exploded');
        },
        usage: new UsageBook(),
      },
    );
    const d = policyHop(broken).onRequest!(withBody('a.test', '/', 'x'), { bytes: Buffer.from('x'), complete: true });
    expect(d).to.deep.include({
      action: 'respond',
      status: 403,
      headers: { 'x-moat-error': 'policy_error' },
    });
    expect((d as any).body).to.deep.include({
      error: 'policy_error',
      reason: 'policy evaluator error: detector exploded',
    });
    // The sentence for the agent says only that the evaluator failed: its error could quote what it read.
    expect((d as any).body.message).to.not.contain('detector exploded');
    expect(d.decision).to.deep.include({ action: 'deny' });
  });

  it('usage of an allowed provider call reaches the budget through onResponse', () => {
    let saved = 0;
    const e = engine([
      { match: 'api.anthropic.com/*', action: 'allow', policies: [{ type: 'spending_limit', max_tokens: 10 }] },
    ]);
    const hop = policyHop(e, { onUsage: () => saved++ });
    const body = JSON.stringify({ model: 'claude-x', messages: [] });
    const v = withBody('api.anthropic.com', '/v1/messages', body);
    expect(hop.onRequest!(v, { bytes: Buffer.from(body), complete: true }).action).to.equal('forward');
    expect(hop.responseCopy!(v)).to.be.greaterThan(0);
    const response = JSON.stringify({ model: 'claude-x', usage: { input_tokens: 8, output_tokens: 4 } });
    hop.onResponse!(v, {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: { bytes: () => Buffer.from(response), truncated: false },
    });
    expect(saved).to.equal(1);
    const next = withBody('api.anthropic.com', '/v1/messages', body);
    expect(hop.onRequest!(next, { bytes: Buffer.from(body), complete: true })).to.deep.include({
      action: 'respond',
      status: 429,
    });
  });

  it("a Responses WebSocket's usage, read from its frames, reaches the budget response by response", () => {
    const e = engine([
      { match: 'api.openai.com/*', action: 'allow', policies: [{ type: 'spending_limit', max_tokens: 10 }] },
    ]);
    const hop = policyHop(e);
    const socket = () => ({
      ...withBody('api.openai.com', '/v1/responses', ''),
      method: 'GET',
      headers: { upgrade: 'websocket' },
    });
    const v = socket();
    expect(hop.onRequest!(v).action).to.equal('forward');
    expect(hop.responseCopy!(v)).to.be.greaterThan(0);
    // Each response the socket finishes is counted as it finishes (5 + 2, then 4 + 1 tokens): the second fills it.
    const finished = (input: number, output: number) =>
      hop.onResponse!(v, {
        status: 101,
        headers: {},
        body: { bytes: () => Buffer.alloc(0), truncated: false },
        facts: { adapter: 'openai-responses', model: 'gpt-x', input_tokens: input, output_tokens: output },
      });
    finished(5, 2);
    expect(hop.onRequest!(socket()).action).to.equal('forward');
    finished(4, 1);
    expect(hop.onRequest!(socket())).to.deep.include({ action: 'respond', status: 429 });
  });

  it('every kind of denial is a documented link error code', () => {
    for (const kind of Object.keys(DENIAL_STATUS)) expect(LINK_ERRORS, kind).to.have.property(kind);
  });

  it('globs: * spans dots and slashes, ? one character, case-insensitive, regex characters literal', () => {
    expect(globMatch('api.*.com/*', 'api.foo.bar.com/x/y')).to.equal(true);
    expect(globMatch('a?c', 'abc')).to.equal(true);
    expect(globMatch('a?c', 'abbc')).to.equal(false);
    expect(globMatch('API.example.com', 'api.EXAMPLE.com')).to.equal(true);
    expect(globMatch('a.com', 'aXcom')).to.equal(false);
    expect(globMatch('(a)+', '(a)+')).to.equal(true);
  });
});
