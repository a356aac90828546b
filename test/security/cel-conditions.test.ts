// `when:` conditions read what the agent sends, so the agent will shape it: a header value that makes an expression
// fail, an MCP argument too large for CEL's bounds, arguments built to make an expression run long, and a request
// carrying credentials an expression must never read. Each must deny (fail closed) or stay hidden, never let a request
// through a deny rule. Attacked as the agent through ingress and moat-policy (in-process chain). Fails with
// hops/policy/engine.ts's when() reading an evaluation error as false, with cel-facts.ts's checkFactBounds on the
// arguments removed (the long run is then evaluated, caught only by the deadline after it), and with cel-facts.ts
// handing header values and arguments unredacted.
import { expect } from 'chai';
import { inprocFixture } from '../helpers/inproc-fixture';
import { timedRequest } from '../helpers/proxy-client';

// Built at run time so this file holds no string secret scanners flag.
const AWS_KEY = ['AKIA', 'Z7Q2', 'MX4B', 'P9LR', 'T3WK'].join('');
const API_KEY = ['sk-ant-api03-', 'Q'.repeat(93), 'AA'].join('');

describe('security: CEL conditions fail closed on what the agent sends, and never see a credential', function () {
  this.timeout(60_000);
  const { provider, agent } = inprocFixture(['api.anthropic.com', 'mcp.example.com', 'keys.example.com'], {
    hops: ['moat-policy'],
    rules: [
      // Deny big batches: an agent that sends a count no int() reads must not pass as "not big".
      { id: 'big-batch', match: 'api.anthropic.com/v1/*', when: 'int(headers["x-batch"]) > 10', action: 'deny' },
      {
        id: 'no-rm',
        match: 'mcp.example.com/*',
        tool: 'shell',
        when: 'args.command.contains("rm -rf")',
        action: 'deny',
      },
      {
        id: 'no-listed',
        match: 'mcp.example.com/*',
        tool: 'grep',
        when: 'args.patterns.exists(p, args.text.contains(p))',
        action: 'deny',
      },
      // Would deny if an expression could read a credential.
      {
        id: 'saw-key',
        match: 'keys.example.com/*',
        when: '"x-api-key" in headers && !headers["x-api-key"].startsWith("[REDACTED")',
        action: 'deny',
      },
      { id: 'saw-aws', match: 'keys.example.com/*', tool: '*', when: 'args.env.contains("AKIA")', action: 'deny' },
      { id: 'rest', match: '*', action: 'allow' },
    ],
    // DLP would refuse the keys itself; off, so that only the expressions stand between them and the provider.
    policy: { dlp: { enabled: false } },
  });

  const post = async (url: string, body: string, headers: Record<string, string> = {}) => {
    const started = performance.now();
    const res = await timedRequest(agent(), url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });
    return { status: res.status, body: res.body, ms: performance.now() - started };
  };
  const rpc = (name: string, args: unknown) =>
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
  const seen = (host: string) => provider.seen.filter((s) => s.host === host).length;

  it('as written: a small batch goes, a big one is denied', async () => {
    expect((await post('https://api.anthropic.com/v1/messages', '{}', { 'x-batch': '2' })).status).to.equal(200);
    expect((await post('https://api.anthropic.com/v1/messages', '{}', { 'x-batch': '99' })).status).to.equal(403);
  });

  for (const [what, headers] of [
    ['a value int() cannot read', { 'x-batch': 'ninety-nine' }],
    ['no such header at all', {}],
    ['a number past int64', { 'x-batch': '99999999999999999999999' }],
  ] as [string, Record<string, string>][])
    it(`a header with ${what} makes the expression fail: denied naming the rule, not let through`, async () => {
      const before = seen('api.anthropic.com');
      const res = await post('https://api.anthropic.com/v1/messages', '{}', headers);
      expect(res.status).to.equal(403);
      expect(JSON.parse(res.body)).to.include({ error: 'policy_error', rule: 'big-batch' });
      expect(JSON.parse(res.body).reason).to.match(/^rule big-batch: its when expression could not be evaluated/);
      expect(seen('api.anthropic.com')).to.equal(before);
    });

  it('an MCP argument past the bounds is denied, not read in part', async () => {
    const before = seen('mcp.example.com');
    const res = await post('https://mcp.example.com/mcp', rpc('shell', { command: ' '.repeat(70_000) + 'rm -rf /' }));
    expect(res.status).to.equal(403);
    expect(JSON.parse(res.body)).to.include({ error: 'policy_error', rule: 'no-rm' });
    expect(seen('mcp.example.com')).to.equal(before);
  });

  it('arguments made to run an expression long are denied at once', async () => {
    const patterns = Array.from({ length: 30_000 }, (_, i) => `needle-${i}-${'z'.repeat(24)}`);
    const res = await post('https://mcp.example.com/mcp', rpc('grep', { patterns, text: 'a b '.repeat(70_000) }));
    expect(res.status).to.equal(403);
    expect(JSON.parse(res.body)).to.include({ error: 'policy_error', rule: 'no-listed' });
    // Refused by the bounds before any evaluation, not by the deadline after a long one.
    expect(JSON.parse(res.body).reason).to.match(/args holds more than 1024 items, more than CEL may read/);
  });

  it('a credential header reaches expressions as [REDACTED]', async () => {
    const res = await post('https://keys.example.com/echo', '{}', { 'x-api-key': API_KEY });
    expect(res.status, res.body).to.equal(200);
  });

  it('a key in MCP arguments reaches expressions masked', async () => {
    const res = await post('https://keys.example.com/mcp', rpc('deploy', { env: `AWS_ACCESS_KEY_ID=${AWS_KEY}` }));
    expect(res.status, res.body).to.equal(200);
    expect(res.body).to.not.contain('saw-aws');
  });
});
