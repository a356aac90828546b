// CEL `when:` conditions in a running chain (pm2, NATS, ledger, TLS at every boundary): a rule that denies by the
// model a request names, one that denies an MCP tool call by its arguments, a report-mode rule whose would_deny event
// names the expression, and a broken expression refused by `plan` and `up` with its place in moat.yaml.
import { expect } from 'chai';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import type { ProxyAgent } from 'undici';

const HOSTS = ['api.anthropic.com', 'mcp.example.com', 'trial.example.com'];
const messages = (model: string) =>
  JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] });
const rpc = (id: number, command: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'shell', arguments: { command } } });

describe('moat-policy CEL conditions in a running chain', function () {
  this.timeout(120_000);
  let agent: ProxyAgent;
  const { chain, provider } = chainFixture({
    config: (p) => `proxies: [moat-policy]
policy:
  rules:
    - id: no-opus
      match: "api.anthropic.com/v1/messages"
      when: model.startsWith("claude-opus")
      action: deny
      reason: opus is not for agents
    - id: no-rm
      match: "mcp.example.com/*"
      tool: "shell"
      when: 'args.command.contains("rm -rf")'
      action: deny
    - id: trial
      match: "trial.example.com/*"
      when: method == "POST" && headers["x-mode"] == "risky"
      action: deny
      mode: report
${egressTo(p.port, HOSTS)}
`,
    beforeCleanup: () => agent?.close(),
  });

  before(async () => {
    agent = await chain.agent();
  });

  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    timedRequest(agent, url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('denies a request naming an opus model; another model reaches the provider', async () => {
    const denied = await post('https://api.anthropic.com/v1/messages', messages('claude-opus-4-1'));
    expect(denied.status).to.equal(403);
    const body = JSON.parse(denied.body);
    expect(body).to.include({ error: 'policy_denied', rule: 'no-opus' });
    expect(body.reason).to.equal('opus is not for agents [when: model.startsWith("claude-opus")]');
    const allowed = await post('https://api.anthropic.com/v1/messages', messages('claude-haiku-4'));
    expect(allowed.status).to.equal(200);
    const models = provider.seen.filter((s) => s.host === 'api.anthropic.com').map((s) => JSON.parse(s.body).model);
    expect(models).to.deep.equal(['claude-haiku-4']);
  });

  it("denies an MCP tool call by its arguments (a JSON-RPC error); another call's arguments go through", async () => {
    const denied = await post('https://mcp.example.com/mcp', rpc(41, 'rm -rf /'));
    expect(denied.status).to.equal(200);
    const answer = JSON.parse(denied.body);
    expect(answer).to.include({ id: 41 });
    expect(answer.error.data).to.include({ rule: 'no-rm' });
    expect(answer.error.data.reason).to.contain('[when: args.command.contains("rm -rf")]');
    expect((await post('https://mcp.example.com/mcp', rpc(42, 'ls -la'))).status).to.equal(200);
    const seen = provider.seen.filter((s) => s.host === 'mcp.example.com').map((s) => JSON.parse(s.body).id);
    expect(seen).to.deep.equal([42]);
  });

  it('report mode: the request goes through and its would_deny event names the expression', async () => {
    const res = await post('https://trial.example.com/echo', '{}', { 'x-mode': 'risky' });
    expect(res.status).to.equal(200);
    let event: any;
    for (let i = 0; i < 50 && !event; i++) {
      await new Promise((r) => setTimeout(r, 100));
      event = (await chain.events()).find((e) => e.host === 'trial.example.com' && e.decision === 'would_deny');
    }
    expect(event, 'a would_deny event').to.not.equal(undefined);
    expect(event).to.include({ rule: 'trial' });
    expect(event.reason).to.contain('[when: method == "POST" && headers["x-mode"] == "risky"]');
  });

  it('a broken expression stops plan and up with file:line:column and the column inside it', async () => {
    const good = chain.configFile;
    const { writeFileSync, readFileSync } = await import('node:fs');
    const before = readFileSync(good, 'utf8');
    try {
      writeFileSync(good, before.replace('model.startsWith("claude-opus")', 'model.startsWith("claude-opus"'));
      const plan = await chain.cli(['plan']);
      expect(plan.code).to.not.equal(0);
      expect(plan.stderr).to.match(/MOAT_ERR_POLICY_EXPRESSION/);
      expect(plan.stderr).to.match(/moat\.yaml:6:13: policy\.rules\[0\]\.when: syntax error: .* of the expression/);
      expect(plan.stderr).to.not.match(/\n\s+at /);
      // up reads the file before anything else (the running chain is not touched).
      const up = await chain.cli(['up', '-d']);
      expect(up.code).to.not.equal(0);
      expect(up.stderr).to.match(/moat\.yaml:6:13: policy\.rules\[0\]\.when: syntax error/);
    } finally {
      writeFileSync(good, before);
    }
  });
});
