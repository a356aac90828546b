// tls.intercept without sockets: which hosts are intercepted, how much of a host a policy rule covers, what
// moat-policy decides for a blind tunnel, the events of one, the config checks, and what the plan hands processes.
import { expect } from 'chai';
import { intercepts, interceptsEverything, interceptRegex } from '../../../../hops/logic/intercept';
import { hostCoverage, type Coverage } from '../../../../hops/policy/host-coverage';
import type { PolicySettings, Verdict } from '../../../../hops/policy/engine';
import { policyHop } from '../../../../hops/policy/hop';
import { tunnelEvents } from '../../../../hops/events/tunnel-events';
import { refusal } from '../../../../hops/runtime/blind-tunnel';
import { parseConfig } from '../../../../supervisor/config/load';
import { MoatError } from '../../../../supervisor/errors';
import { formatEvent } from '../../../../supervisor/ledger/commands';
import { TapPairer, formatTapRecord } from '../../../../supervisor/ledger/tap-view';
import { requestRow } from '../../../../supervisor/dashboard/stats';
import { TraceAggregator } from '../../../../hops/telemetry/aggregator';
import type { PolicyRule } from '../../../../schemas/generated/chain-config';
import type { RequestView } from '../../../../hops/logic/view';
import { planFromYaml } from '../../../helpers/plan-from-yaml';
import { testPolicyEngine } from '../../../helpers/policy-engine';

const connectView = (host: string, o: Partial<RequestView> = {}): RequestView => ({
  method: 'CONNECT',
  scheme: 'https',
  host,
  port: 443,
  path: '',
  headers: { host: `${host}:443`, 'proxy-authorization': 'Basic bW9hdDpzZWNyZXQ=' },
  trace: 'T',
  correlation: 'exact',
  ...o,
});

describe('tls.intercept: which hosts are intercepted (pure)', () => {
  it('no list intercepts every host; a list only the hosts its globs match, ignoring case', () => {
    expect(intercepts(undefined, 'anything.test')).to.equal(true);
    expect(intercepts(['api.anthropic.com', '*.openai.com'], 'API.Anthropic.com')).to.equal(true);
    expect(intercepts(['api.anthropic.com', '*.openai.com'], 'chat.openai.com')).to.equal(true);
    expect(intercepts(['api.anthropic.com', '*.openai.com'], 'github.com')).to.equal(false);
    expect(intercepts([], 'api.anthropic.com')).to.equal(false);
  });

  it('knows when a list is every host', () => {
    expect(interceptsEverything(['*'])).to.equal(true);
    expect(interceptsEverything(['a.test', '**'])).to.equal(true);
    expect(interceptsEverything(['*.test'])).to.equal(false);
    expect(interceptsEverything([])).to.equal(false);
  });

  it(
    'renders the list as one anchored regular expression (mitmproxy allow_hosts), and an empty list as one ' +
      'that matches nothing',
    () => {
      const re = new RegExp(interceptRegex(['api.anthropic.com', '*.openai.com']), 'i');
      expect(re.source).to.equal('^(?:api\\.anthropic\\.com|.*\\.openai\\.com)(?::\\d+)?$');
      // mitmproxy 10+ tests "host:port", older releases the host alone.
      expect(
        ['api.anthropic.com', 'x.openai.com', 'api.anthropic.com:443', 'x.openai.com:8443'].map((h) => re.test(h)),
      ).to.deep.equal([true, true, true, true]);
      expect(['api.anthropic.com:443x', 'evil.test:443'].map((h) => re.test(h))).to.deep.equal([false, false]);
      expect(['api.anthropic.com.evil.test', 'xapi.anthropic.com', 'openai.com'].map((h) => re.test(h))).to.deep.equal([
        false,
        false,
        false,
      ]);
      expect(new RegExp(interceptRegex([])).test('a.test')).to.equal(false);
      expect(new RegExp(interceptRegex(['*'])).test('a.test')).to.equal(true);
    },
  );
});

describe('moat-policy on a blind tunnel (pure)', () => {
  const COVERAGE: [string, string, Coverage][] = [
    ['*', 'a.test', 'all'],
    ['a.test/*', 'a.test', 'all'],
    ['*.test/*', 'a.test', 'all'],
    ['A.TEST*', 'a.test', 'all'],
    ['a.test/v1/*', 'a.test', 'some'],
    ['*/admin', 'a.test', 'some'],
    ['a.test/?', 'a.test', 'some'],
    // the root path only (this was taken for every path, letting a deny-all after it pass)
    ['a.test/', 'a.test', 'some'],
    ['b.test/*', 'a.test', 'none'],
    ['a.test', 'a.test', 'none'], // a subject always has a path: this glob matches no request at all
    ['a.tes', 'a.test', 'none'],
    // The README's own example: it names other hosts, so it decides no tunnel to this one.
    ['*.internal.example.com/*', 'api.anthropic.com', 'none'],
    ['*.internal.example.com/*', 'db.internal.example.com', 'all'],
    ['*.internal.example.com/admin/*', 'db.internal.example.com', 'some'],
    ['*admin*', 'a.test', 'some'], // no host part: read as a whole, so still undecidable (fail closed)
  ];
  for (const [glob, host, want] of COVERAGE)
    it(`rule ${glob} covers ${want} of ${host}`, () => expect(hostCoverage(glob, host)).to.equal(want));

  function engine(rules: PolicyRule[], extra: Partial<PolicySettings> = {}) {
    return testPolicyEngine(
      rules,
      extra,
      () => Date.parse('2026-11-23T10:30:00Z'),
      () => [{ label: 'never called' }],
    );
  }
  const ROWS: { name: string; rules: PolicyRule[]; host: string; want: Partial<Verdict> }[] = [
    {
      name: 'no rule: allowed (DLP does not apply, nothing of the body is seen)',
      rules: [],
      host: 'a.test',
      want: { action: 'allow', reason: 'no rule matched' },
    },
    {
      name: 'a deny rule for the whole host denies the CONNECT',
      rules: [{ id: 'no-a', match: 'a.test/*', action: 'deny' }],
      host: 'a.test',
      want: { action: 'deny', kind: 'policy_denied', status: 403, rule: 'no-a' },
    },
    {
      name: 'an allow rule for the whole host allows it',
      rules: [
        { match: '*.test/*', action: 'allow' },
        { match: '*', action: 'deny' },
      ],
      host: 'a.test',
      want: { action: 'allow', rule: 'rules[0]' },
    },
    {
      name: 'a log rule logs it',
      rules: [{ match: '*', action: 'log' }],
      host: 'a.test',
      want: { action: 'log', rule: 'rules[0]' },
    },
    {
      name: 'rules for other hosts do not apply',
      rules: [{ match: 'b.test/*', action: 'deny' }],
      host: 'a.test',
      want: { action: 'allow', rule: undefined },
    },
    {
      name: 'a deny rule on some paths cannot be decided: denied, fail closed',
      rules: [{ id: 'admin', match: 'a.test/admin/*', action: 'deny' }],
      host: 'a.test',
      want: { action: 'deny', kind: 'blind_tunnel_undecidable', status: 403, rule: 'admin' },
    },
    {
      name: 'an allow rule on some paths is passed over to the rules after it (allow)',
      rules: [
        { match: 'a.test/v1/*', action: 'allow' },
        { match: 'a.test/*', action: 'log' },
      ],
      host: 'a.test',
      want: { action: 'log', rule: 'rules[1]' },
    },
    {
      name: '... (deny)',
      rules: [
        { match: 'a.test/v1/*', action: 'allow' },
        { id: 'rest', match: '*', action: 'deny' },
      ],
      host: 'a.test',
      want: { action: 'deny', kind: 'policy_denied', rule: 'rest' },
    },
    {
      name: 'an MCP tool deny rule on the host cannot be decided: denied, fail closed',
      rules: [{ id: 'no-deletes', match: 'a.test/*', tool: 'delete_*', action: 'deny' }],
      host: 'a.test',
      want: { action: 'deny', kind: 'blind_tunnel_undecidable', rule: 'no-deletes' },
    },
    {
      name: 'a deny rule for some methods cannot be decided: denied, fail closed',
      rules: [{ id: 'no-delete', match: 'a.test/*', methods: ['DELETE'], action: 'deny' }],
      host: 'a.test',
      want: { action: 'deny', kind: 'blind_tunnel_undecidable', rule: 'no-delete' },
    },
    {
      name: 'an allow rule for some methods is passed over to the rules after it',
      rules: [
        { match: 'a.test/*', methods: ['GET'], action: 'allow' },
        { id: 'rest', match: '*', action: 'deny' },
      ],
      host: 'a.test',
      want: { action: 'deny', kind: 'policy_denied', rule: 'rest' },
    },
    {
      name: 'a spending_limit cannot be kept without usage: denied, fail closed',
      rules: [
        { id: 'budget', match: 'a.test/*', action: 'allow', policies: [{ type: 'spending_limit', max_tokens: 10 }] },
      ],
      host: 'a.test',
      want: { action: 'deny', kind: 'blind_tunnel_undecidable', rule: 'budget' },
    },
    {
      name: 'a time_restriction applies',
      rules: [
        {
          id: 'hours',
          match: 'a.test/*',
          action: 'allow',
          policies: [{ type: 'time_restriction', allowed_hours_start: 0, allowed_hours_end: 1, time_zone: 'UTC' }],
        },
      ],
      host: 'a.test',
      want: { action: 'deny', kind: 'outside_allowed_hours', rule: 'hours' },
    },
  ];
  for (const row of ROWS) {
    it(row.name, () => {
      const v = engine(row.rules).decideTunnel({ host: row.host });
      for (const [k, value] of Object.entries(row.want)) expect((v as any)[k], k).to.deep.equal(value);
      if (v.kind === 'blind_tunnel_undecidable') expect(v.reason).to.contain(`add ${row.host} to tls.intercept`);
    });
  }

  it('a rate_limit counts each tunnel as one request', () => {
    const hop = policyHop(
      engine([
        {
          id: 'slow',
          match: 'a.test/*',
          action: 'allow',
          policies: [{ type: 'rate_limit', max_requests_per_minute: 2 }],
        },
      ]),
    );
    const actions = [1, 2, 3].map(() => hop.onTunnel!(connectView('a.test')));
    expect(actions.map((d) => d.action)).to.deep.equal(['forward', 'forward', 'respond']);
    expect(actions[2]).to.deep.include({ status: 429 });
  });

  it('the hop answers a denial with the rule, and report mode forwards it as would_deny', () => {
    const rules: PolicyRule[] = [{ id: 'no-a', match: 'a.test/*', action: 'deny' }];
    const denied = policyHop(engine(rules)).onTunnel!(connectView('a.test'));
    expect(denied).to.deep.include({ action: 'respond', status: 403 });
    if (denied.action !== 'respond') return;
    expect(denied.body).to.deep.include({ error: 'policy_denied', rule: 'no-a', reason: 'matched a.test/*' });
    expect((denied.body as any).message).to.match(/^moat denied a tunnel to a\.test:443 \(rule no-a: /);
    expect(denied.log).to.contain('CONNECT a.test:443 (blind tunnel)');
    const reported = policyHop(engine(rules, { mode: 'report' })).onTunnel!(connectView('a.test'));
    expect(reported).to.deep.include({
      action: 'forward',
      decision: { action: 'would_deny', rule: 'no-a', reason: 'matched a.test/*' },
    });
  });
});

describe('blind tunnel events and the readers of them (pure)', () => {
  const info = { chain: 'c', hop: 2, hopName: 'moat-policy', boundary: 1, capture: 'full' as const };
  const [request, response] = tunnelEvents(info, connectView('blind.test'), {
    status: 200,
    bytesUp: 517,
    bytesDown: 4096,
    openMs: 3.21,
    durationMs: 120.5,
    decision: { action: 'allow', reason: 'no rule matched' },
  });
  const eventsAt = (hop: number) =>
    tunnelEvents({ ...info, hop, boundary: hop - 1 }, connectView('blind.test'), {
      status: 200,
      bytesUp: 517,
      bytesDown: 4096,
      openMs: 1,
      durationMs: 100 - hop,
    });

  it('records the CONNECT, bytes each way, the tunnel life and the decision, with intercepted: false', () => {
    expect(request).to.deep.include({
      direction: 'request',
      method: 'CONNECT',
      scheme: 'https',
      host: 'blind.test',
      port: 443,
      path: '',
      intercepted: false,
      body_size: 517,
      decision: 'allow',
      boundary: 1,
      hop: 2,
    });
    expect(response).to.deep.include({
      direction: 'response',
      status: 200,
      intercepted: false,
      body_size: 4096,
      elapsed_ms: 120.5,
      ttfb_ms: 3.21,
    });
    expect(request.body).to.equal(undefined);
    expect(response.body).to.equal(undefined);
    expect(request.headers!['proxy-authorization']).to.equal('[REDACTED]');
    expect(JSON.stringify([request, response])).not.to.contain('bW9hdDpzZWNyZXQ=');
  });

  it('a refusal records its status and error', () => {
    const [, refused] = tunnelEvents(info, connectView('x.test'), {
      status: 403,
      bytesUp: 0,
      bytesDown: 0,
      openMs: 1,
      durationMs: 1,
      error: 'policy_denied',
      decision: { action: 'deny', rule: 'no-x' },
    });
    expect(refused).to.deep.include({ status: 403, error: 'policy_denied', decision: 'deny', rule: 'no-x' });
    const text = refusal(403, { error: 'policy_denied', rule: 'no-x' }, { 'x-moat-error': 'policy_denied' }).toString();
    expect(text).to.match(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(text).to.contain(
      'connection: close\r\nx-moat-error: policy_denied\r\n\r\n{"error":"policy_denied","rule":"no-x"}\n',
    );
  });

  it('moat chain events and tap show it as a blind tunnel', () => {
    expect(formatEvent(request)).to.contain('CONNECT blind.test:443 (blind) 517B');
    const pairer = new TapPairer(2);
    const [beforeReq, beforeRes] = eventsAt(2);
    const [afterReq, afterRes] = eventsAt(3);
    [beforeReq, afterReq, afterRes].forEach((e) => expect(pairer.add(e)).to.equal(undefined));
    const record = pairer.add(beforeRes)!;
    expect(record).to.deep.include({ intercepted: false, port: 443, requestBytes: { before: 517, after: 517 } });
    expect(formatTapRecord(record)).to.match(
      new RegExp(
        /^CONNECT blind\.test:443 {2}blind tunnel, not intercepted \(tls\.intercept\) {2}trace /.source +
          /T\n {2}status 200 -> 200 {3}latency added 1\.00 ms\n {2}request bytes 517 -> 517 {3}response /.source +
          /bytes 4096 -> 4096/.source,
      ),
    );
  });

  it('the dashboard row and moat-telemetry take a blind tunnel like any request', () => {
    const all = [...eventsAt(1), ...eventsAt(2), ...eventsAt(3)];
    expect(requestRow(all)).to.deep.include({
      method: 'CONNECT',
      host: 'blind.test',
      status: 200,
      intercepted: false,
      done: true,
    });
    const aggregator = new TraceAggregator({ lastBoundary: 2, prices: {}, settleMs: 1000, timeoutMs: 60_000 });
    all.forEach((e) => aggregator.add(e, 0));
    const out = aggregator.drain(0);
    expect(out.traces).to.have.length(1);
    expect(out.traces[0]).to.deep.include({
      trace: 'T',
      method: 'CONNECT',
      host: 'blind.test',
      status: 200,
      complete: true,
    });
  });
});

describe('tls: config checks and plan (pure)', () => {
  function errorOf(yaml: string): { code: string; message: string } {
    try {
      parseConfig(yaml, 'moat.yaml');
    } catch (err) {
      if (err instanceof MoatError) return { code: err.code, message: err.message };
      throw err;
    }
    throw new Error('expected the config to be rejected');
  }

  it('a grant for a blind host is refused at its line', () => {
    const err = errorOf('proxies: [moat-policy]\ntls:\n  intercept: [api.openai.com]\ngrants:\n  - anthropic\n');
    expect(err.code).to.equal('MOAT_ERR_INTERCEPT_CONFLICT');
    expect(err.message).to.equal(
      'moat.yaml:5:5: grants[0] (anthropic) puts a key into requests to api.anthropic.com, which ' +
        "tls.intercept (moat.yaml:3:14) leaves blind: egress cannot see them, and the agent's placeholder " +
        'would reach the provider as it is; add api.anthropic.com to tls.intercept or remove the grant',
    );
  });

  it('a base_url hop serving a blind host is refused', () => {
    const err = errorOf('proxies: [chopratejas/headroom]\ntls:\n  intercept: [api.openai.com]\n');
    expect(err.code).to.equal('MOAT_ERR_INTERCEPT_CONFLICT');
    expect(err.message).to.match(
      new RegExp(
        /^moat\.yaml:1:11: proxies\[0\] \(chopratejas\/headroom\) serves /.source +
          /api\.anthropic\.com(, [a-z.]+)*, which tls\.intercept \(moat\.yaml:3:14\) leaves blind/.source,
      ),
    );
  });

  it('a hop that intercepts TLS itself without {intercept_hosts} is refused; the mitmproxy manifest passes it', () => {
    const longForm =
      'proxies:\n  - name: mitm\n    command: [mitmdump, -p, "{port}"]\n    trust_ca: "{dir}/ca.pem"\ntls:\n ' +
      ' intercept: ["*.anthropic.com"]\n';
    const err = errorOf(longForm);
    expect(err.code).to.equal('MOAT_ERR_INTERCEPT_CONFLICT');
    expect(err.message).to.match(
      new RegExp(
        /^moat\.yaml:2:5: proxies\[0\] \(mitm\) intercepts TLS itself \(trust_ca\) and is not told /.source +
          /which hosts to leave alone/.source,
      ),
    );
    expect(() =>
      parseConfig(
        longForm.replace('-p, "{port}"', '-p, "{port}", --set, "allow_hosts={intercept_hosts}"'),
        'moat.yaml',
      ),
    ).not.to.throw();
    // With every host intercepted (the default) nothing is blind, and nothing is refused.
    expect(() => parseConfig(longForm.replace(/tls:[\s\S]*/, ''), 'moat.yaml')).not.to.throw();
  });

  it('the plan gives every Moat process the list, and mitmproxy its allow_hosts; the default gives none', () => {
    const plan = (yaml: string) => planFromYaml(yaml, 't');
    const blind = plan(
      'proxies: [moat-telemetry, mitmproxy, moat-policy]\ntls:\n  intercept: [api.anthropic.com, "*.openai.com"]\n',
    );
    const moat = blind.processes.filter((p) => p.spec);
    expect(moat.map((p) => p.spec!.intercept)).to.deep.equal(moat.map(() => ['api.anthropic.com', '*.openai.com']));
    expect(blind.processes.find((p) => p.role === 'third-party')!.command).to.include(
      'allow_hosts=^(?:api\\.anthropic\\.com|.*\\.openai\\.com)(?::\\d+)?$',
    );
    const all = plan('proxies: [moat-telemetry, mitmproxy]\n');
    expect(all.processes.filter((p) => p.spec?.intercept !== undefined)).to.deep.equal([]);
    expect(all.processes.find((p) => p.role === 'third-party')!.command).to.include('allow_hosts=^(?:.*)(?::\\d+)?$');
  });
});
