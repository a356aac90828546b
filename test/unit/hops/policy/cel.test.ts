// `when:` conditions: facts built from a request, expressions true and false, compile errors with their position in
// moat.yaml and in the expression, costly expressions refused, evaluation bounded, and every evaluation error a denial
// naming the rule (fail closed).
import { expect } from 'chai';
import { CEL_BOUNDS, CelCompileError, compileWhen, evaluateWhen } from '../../../../hops/policy/cel';
import { celFacts, withCall } from '../../../../hops/policy/cel-facts';
import { parseConfig } from '../../../../supervisor/config/load';
import { MoatError } from '../../../../supervisor/errors';
import { policyView, testPolicyEngine } from '../../../helpers/policy-engine';
import type { PolicyRule } from '../../../../schemas/generated/chain-config';
import type { PolicySettings } from '../../../../hops/policy/engine';

const engine = (rules: PolicyRule[], extra: Partial<PolicySettings> = {}) =>
  testPolicyEngine(rules, { dlp: { enabled: false }, ...extra }, Date.now, () => []);

const ANTHROPIC_BODY = JSON.stringify({
  model: 'claude-opus-4-1',
  max_tokens: 10,
  messages: [{ role: 'user', content: 'x'.repeat(4000) }],
  tools: [{ name: 'bash', input_schema: {} }],
});
const request = (headers: Record<string, string> = {}) =>
  policyView('api.anthropic.com', '/v1/messages?beta=true', {
    method: 'post',
    headers: { 'content-length': String(ANTHROPIC_BODY.length), ...headers },
  });
const body = { text: ANTHROPIC_BODY, complete: true };

describe('CEL facts from a request', () => {
  it('method, host, path without the query, provider facts', () => {
    const f = celFacts(request(), body);
    expect(f).to.include({ method: 'POST', host: 'api.anthropic.com', path: '/v1/messages', model: 'claude-opus-4-1' });
    expect(f.input_tokens > 900n).to.equal(true);
    expect(f.tools).to.deep.equal(['bash']);
    expect(f).to.include({ tool: '' });
  });

  it('credential headers and secrets in header values are redacted', () => {
    const f = celFacts(
      request({
        'x-api-key': 'sk-ant-api03-' + 'a'.repeat(90),
        'x-note': 'key AKIAABCDEFGHIJKLMNOP here',
        'x-plain': 'ok',
      }),
    );
    expect(f.headers['x-api-key']).to.equal('[REDACTED]');
    expect(f.headers['x-note']).to.not.contain('AKIAABCDEFGHIJKLMNOP');
    expect(f.headers['x-plain']).to.equal('ok');
  });

  it("an MCP call's arguments, with secrets masked", () => {
    const f = withCall(celFacts(request()), {
      tool: 'run',
      arguments: { command: 'ls', env: { AWS: 'AKIAABCDEFGHIJKLMNOP' } },
    });
    expect(f.tool).to.equal('run');
    expect(JSON.stringify(f.args)).to.not.contain('AKIAABCDEFGHIJKLMNOP');
    expect((f.args as { command: string }).command).to.equal('ls');
  });
});

describe('CEL expressions', () => {
  const facts = withCall(celFacts(request({ 'x-debug': '1' }), body), {
    tool: 'run_shell',
    arguments: { command: 'rm -rf /', n: 3 },
  });
  const rows: [string, boolean][] = [
    ['model.startsWith("claude-opus")', true],
    ['model == "claude-sonnet-4"', false],
    ['method == "POST" && input_tokens > 100000', false],
    ['input_tokens > 500', true],
    ['"bash" in tools', true],
    ['tools.exists(t, t.startsWith("web"))', false],
    ['headers["x-debug"] == "1"', true],
    ['"x-other" in headers', false],
    ['tool == "run_shell" && args.command.contains("rm -rf")', true],
    ['has(args.n) && args.n > 2.0', true],
    ['path.startsWith("/v1/") && host.endsWith(".anthropic.com")', true],
  ];
  for (const [expr, want] of rows)
    it(`${expr} is ${want}`, () => expect(evaluateWhen(compileWhen(expr), facts)).to.equal(want));

  const refused: [string, string, number][] = [
    ['model ==', 'syntax error', 9],
    ['input_tokens > "1"', 'type error', 1],
    ['nosuch == 1', 'type error', 1],
    ['model', 'must yield bool', 1],
    ['model.matches("(a+)+$")', 'matches() is not available', 1],
    ['tools.exists(a, tools.exists(b, a == b))', 'inside another comprehension', 17],
  ];
  for (const [expr, what, column] of refused)
    it(`refused at compile: ${expr}`, () => {
      let err: unknown;
      try {
        compileWhen(expr);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(CelCompileError);
      expect((err as Error).message).to.contain(what);
      expect((err as CelCompileError).column).to.equal(column);
    });

  it('a missing key is an evaluation error', () => {
    expect(() => evaluateWhen(compileWhen('args.nosuch == "x"'), facts)).to.throw(/No such key/);
  });

  it('facts over the bounds are an evaluation error, not a truncated read', () => {
    const big = () => withCall(facts, { tool: 'w', arguments: { content: 'a'.repeat(CEL_BOUNDS.maxStringChars + 1) } });
    expect(big).to.throw(/longer than/);
    const many = () =>
      withCall(facts, { tool: 'w', arguments: { list: Array.from({ length: CEL_BOUNDS.maxItems + 1 }, () => 1) } });
    expect(many).to.throw(/more than/);
  });

  it('an evaluation past the deadline is an error', () => {
    let t = 0;
    const clock = () => (t += CEL_BOUNDS.deadlineMs + 1);
    expect(() => evaluateWhen(compileWhen('true'), facts, clock)).to.throw(/more than the 50 ms allowed/);
  });

  it('the worst a bounded expression can do over bounded facts stays well under the deadline', () => {
    const worst = withCall(facts, {
      tool: 'w',
      arguments: {
        list: Array.from({ length: CEL_BOUNDS.maxItems }, (_, i) => 'x'.repeat(60) + i),
        s: 'y'.repeat(CEL_BOUNDS.maxStringChars),
      },
    });
    const start = performance.now();
    expect(evaluateWhen(compileWhen('args.list.exists(x, args.s.contains(x))'), worst)).to.equal(false);
    expect(performance.now() - start).to.be.below(CEL_BOUNDS.deadlineMs);
  });
});

describe('CEL in policy rules', () => {
  const rules: PolicyRule[] = [
    { id: 'no-opus', match: 'api.anthropic.com/*', when: 'model.startsWith("claude-opus")', action: 'deny' },
    { id: 'no-rm', match: 'mcp.test/*', tool: '*', when: 'args.command.contains("rm ")', action: 'deny' },
    { match: '*', action: 'allow' },
  ];
  const mcpBody = (args: unknown) =>
    JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'shell', arguments: args } });
  const mcpView = (b: string) =>
    policyView('mcp.test', '/mcp', { method: 'POST', headers: { 'content-length': String(b.length) } });

  it('denies on the model, naming the expression', () => {
    const v = engine(rules).decide(request(), body);
    expect(v).to.include({ action: 'deny', rule: 'no-opus', kind: 'policy_denied' });
    expect(v.reason).to.contain('[when: model.startsWith("claude-opus")]');
  });

  it('another model goes on to the next rule', () => {
    const other = ANTHROPIC_BODY.replace('claude-opus-4-1', 'claude-haiku-4');
    const v = engine(rules).decide(request(), { text: other, complete: true });
    expect(v).to.include({ action: 'allow', rule: 'rules[2]' });
  });

  it('the body is read when a when: rule applies', () => {
    expect(engine(rules).wantsBody(request())).to.equal(true);
  });

  it('denies an MCP call by its arguments, lets another through', () => {
    const e = engine(rules);
    const bad = mcpBody({ command: 'rm -rf /' });
    expect(e.decide(mcpView(bad), { text: bad, complete: true })).to.include({ action: 'deny', rule: 'no-rm' });
    const good = mcpBody({ command: 'ls' });
    expect(e.decide(mcpView(good), { text: good, complete: true })).to.include({ action: 'allow' });
  });

  it('an evaluation error denies, naming the rule (fail closed)', () => {
    const b = mcpBody({ path: '/etc' });
    const v = engine(rules).decide(mcpView(b), { text: b, complete: true });
    expect(v).to.include({ action: 'deny', rule: 'no-rm', kind: 'policy_error', status: 403 });
    expect(v.reason).to.match(/rule no-rm: its when expression could not be evaluated .*No such key: command/);
  });

  it('an allow rule whose evaluation fails denies too', () => {
    const allowRules: PolicyRule[] = [
      { id: 'small', match: 'mcp.test/*', tool: '*', when: 'args.size < 100.0', action: 'allow' },
      { match: '*', action: 'allow' },
    ];
    const b = mcpBody({ content: 'a'.repeat(CEL_BOUNDS.maxStringChars + 1) });
    expect(engine(allowRules).decide(mcpView(b), { text: b, complete: true })).to.include({
      action: 'deny',
      kind: 'policy_error',
      rule: 'small',
    });
  });

  it('a blind tunnel cannot be decided by a when: deny rule', () => {
    expect(engine(rules).decideTunnel({ host: 'api.anthropic.com' })).to.include({
      kind: 'blind_tunnel_undecidable',
      rule: 'no-opus',
    });
  });
});

describe('CEL errors at load name file, line and column', () => {
  const yaml = (when: string) =>
    [
      'proxies: [moat-policy]',
      'policy:',
      '  rules:',
      '    - match: "api.anthropic.com/*"',
      '      action: deny',
      `      when: ${when}`,
      '',
    ].join('\n');
  const loadError = (text: string) => {
    try {
      parseConfig(text, 'moat.yaml');
    } catch (err) {
      return err as MoatError;
    }
    throw new Error('loaded');
  };

  it('a syntax error', () => {
    const err = loadError(yaml("'model == '"));
    expect(err.code).to.equal('MOAT_ERR_POLICY_EXPRESSION');
    expect(err.message).to.match(
      /^moat\.yaml:6:13: policy\.rules\[0\]\.when: syntax error: .*at column 10 of the expression/,
    );
  });

  it('a type error', () => {
    const err = loadError(yaml('\'input_tokens > "x"\''));
    expect(err.message).to.match(/^moat\.yaml:6:13: policy\.rules\[0\]\.when: type error: no such overload/);
  });

  it('a multi-line expression names the line inside it', () => {
    const err = loadError(yaml('|\n        model == "a" &&\n        nosuch'));
    expect(err.message).to.match(/moat\.yaml:6:13: .*at line 2, column 1 of the expression/);
  });

  it('a valid one loads', () => {
    expect(parseConfig(yaml('\'model == "x"\''), 'moat.yaml').config.policy.rules[0].when).to.equal('model == "x"');
  });
});
