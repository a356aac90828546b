// moat-policy end to end, in a real chain (pm2, NATS, ledger, TLS at every boundary): rate limits,
// hours, DLP with full capture, MCP tool calls, token budgets, report mode, reload without restart.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import type { ProxyAgent } from 'undici';

// Built at run time so this file holds no string secret scanners flag.
const AWS_KEY = ['AKIA', 'Z7Q2', 'MX4B', 'P9LR', 'T3WK'].join('');
const HOSTS = [
  'api.anthropic.com',
  'mcp.example.com',
  'limited.example.com',
  'closed.example.com',
  'trial.example.com',
  'open.example.com',
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path);
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

const rpc = (name: string, id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { path: '/tmp/x' } } });

describe('moat-policy in a running chain', function () {
  this.timeout(120_000);
  let agent: ProxyAgent;
  // Hours that exclude now (UTC): two hours from now, for one hour.
  const closedFrom = (new Date().getUTCHours() + 2) % 24;
  const policy = (extraRule = '') => `proxies: [moat-telemetry, moat-policy]
capture:
  bodies: full
policy:
  rules:${extraRule}
    - id: no-deletes
      match: "mcp.example.com/*"
      tool: "delete_*"
      action: deny
      reason: agents may not delete files
    - id: limited
      match: "limited.example.com/*"
      action: allow
      policies: [{type: rate_limit, max_requests_per_minute: 3}]
    - id: office-hours
      match: "closed.example.com/*"
      action: allow
      policies:
        - type: time_restriction
          allowed_hours_start: ${closedFrom}
          allowed_hours_end: ${closedFrom + 1}
          time_zone: UTC
    - id: budget
      match: "api.anthropic.com/*"
      action: allow
      policies: [{type: spending_limit, max_tokens: 20, time_zone: UTC}]
    - id: trial
      match: "trial.example.com/*"
      action: deny
      mode: report
      reason: trying a deny rule
${egressTo(provider.port, HOSTS)}
`;

  const { chain, provider } = chainFixture({ config: () => policy(), beforeCleanup: () => agent?.close() });

  before(async () => {
    agent = await chain.agent();
  });

  const get = (url: string, init: Parameters<typeof timedRequest>[2] = {}) => timedRequest(agent, url, init);
  const eventsOf = async (host: string) => {
    return (await chain.events()).filter((e) => e.host === host);
  };

  it('rate_limit: the 4th request in a minute gets 429 with Retry-After; the provider saw 3', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await get('https://limited.example.com/echo');
      statuses.push(last.status);
    }
    expect(statuses).to.deep.equal([200, 200, 200, 429]);
    expect(Number(last!.headers['retry-after'])).to.be.within(1, 60);
    expect(JSON.parse(last!.body)).to.include({ error: 'rate_limited', rule: 'limited' });
    expect(provider.seen.filter((s) => s.host === 'limited.example.com')).to.have.length(3);
  });

  it('time_restriction: denied outside the allowed hours, with the rule and reason', async () => {
    const res = await get('https://closed.example.com/echo');
    expect(res.status).to.equal(403);
    const body = JSON.parse(res.body);
    expect(body).to.include({ error: 'outside_allowed_hours', rule: 'office-hours' });
    expect(body.reason).to.contain(`allowed from ${closedFrom}:00`);
    expect(provider.seen.some((s) => s.host === 'closed.example.com')).to.equal(false);
  });

  it(
    'DLP: a body with an AWS key is blocked with its label, ' + 'and the key is nowhere in the ledger (full capture)',
    async () => {
      const body = JSON.stringify({
        model: 'claude-x',
        max_tokens: 5,
        messages: [{ role: 'user', content: `deploy with ${AWS_KEY} please` }],
      });
      const res = await get('https://open.example.com/echo', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).to.equal(403);
      expect(JSON.parse(res.body)).to.deep.include({
        error: 'dlp_blocked',
        rule: 'dlp',
        reason: 'request body contains aws_access_key',
        label: 'aws_access_key',
      });
      expect(JSON.parse(res.body).message).to.match(
        /^moat denied POST open\.example\.com \(DLP: request body contains aws_access_key\); retrying without/,
      );
      expect(res.body).to.not.contain(AWS_KEY);
      expect(provider.seen.some((s) => s.host === 'open.example.com')).to.equal(false);

      // The boundary in front of moat-policy recorded the request (full capture) before the verdict: masked, not
      // dropped.
      let events: any[] = [];
      for (let i = 0; i < 40 && !events.some((e) => e.decision === 'deny'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        events = await eventsOf('open.example.com');
      }
      const denied = events.find((e) => e.direction === 'response' && e.decision === 'deny');
      expect(denied).to.include({ rule: 'dlp', status: 403, reason: 'request body contains aws_access_key' });
      const recorded = events
        .filter((e) => e.direction === 'request')
        .map((e) => e.body)
        .join('\n');
      expect(recorded).to.contain('deploy with').and.contain('[REDACTED');
      const stored = filesUnder(chain.layout.stateDir)
        .map((f) => readFileSync(f).toString('latin1'))
        .join('\n');
      expect(stored, 'the key in the state directory (ledger, logs)').to.not.contain(AWS_KEY);
    },
  );

  it('MCP: tools/call of delete_* is answered with a JSON-RPC error; read_file reaches the server', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const denied = await get('https://mcp.example.com/mcp', { method: 'POST', body: rpc('delete_file', 41), headers });
    expect(denied.status).to.equal(200);
    const reply = JSON.parse(denied.body);
    expect(reply).to.deep.include({ jsonrpc: '2.0', id: 41 });
    expect(reply.error.code).to.equal(-32001);
    expect(reply.error.data).to.deep.equal({ rule: 'no-deletes', reason: 'agents may not delete files' });
    expect(reply.error.message).to.match(
      /^moat denied the MCP tool call delete_file on mcp\.example\.com \(rule no-deletes: agents may not delete files\); retrying without the proxy/,
    );
    const allowed = await get('https://mcp.example.com/mcp', { method: 'POST', body: rpc('read_file', 42), headers });
    expect(JSON.parse(allowed.body)).to.deep.equal({
      jsonrpc: '2.0',
      id: 42,
      result: { content: [{ type: 'text', text: 'ran read_file' }] },
    });
    expect(
      provider.seen.filter((s) => s.host === 'mcp.example.com').map((s) => JSON.parse(s.body).params.name),
    ).to.deep.equal(['read_file']);
  });

  it('spending_limit: a token budget fills from the provider usage, then 429 budget_exhausted', async () => {
    const body = JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] });
    const call = () =>
      get('https://api.anthropic.com/v1/messages', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
    // The fake provider reports 12 + 3 tokens a call: the second call passes (15 of 20), the third does not (30 of 20).
    expect((await call()).status).to.equal(200);
    expect((await call()).status).to.equal(200);
    const third = await call();
    expect(third.status).to.equal(429);
    expect(JSON.parse(third.body)).to.include({ error: 'budget_exhausted', rule: 'budget' });
    expect(JSON.parse(third.body).reason).to.contain('30 of 20 tokens');
    expect(Number(third.headers['retry-after'])).to.be.within(1, 86_400);
  });

  it('report mode: a would-deny goes through and is recorded as would_deny with the rule', async () => {
    const res = await get('https://trial.example.com/echo');
    expect(res.status).to.equal(200);
    let decided: any;
    for (let i = 0; i < 40 && !decided; i++) {
      await new Promise((r) => setTimeout(r, 100));
      decided = (await eventsOf('trial.example.com')).find((e) => e.decision === 'would_deny');
    }
    expect(decided).to.include({ rule: 'trial', reason: 'trying a deny rule', hop_name: 'moat-policy' });
  });

  it(
    'reloads rules when moat.yaml changes, without dropping a ' + 'request in flight; a broken edit keeps the rules',
    async () => {
      const slow = get('https://open.example.com/slow?ms=1500');
      await new Promise((r) => setTimeout(r, 200));
      chain.writeConfig(
        policy(`
    - id: added-live
      match: "open.example.com/blocked/*"
      action: deny
      reason: added while running`),
      );
      let res;
      for (let i = 0; i < 40; i++) {
        res = await get('https://open.example.com/blocked/x');
        if (res.status === 403) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(JSON.parse(res!.body)).to.include({ error: 'policy_denied', rule: 'added-live' });
      expect((await slow).status).to.equal(200);

      chain.writeConfig(policy().replace('action: deny', 'action: forbid'));
      await new Promise((r) => setTimeout(r, 1000));
      // The rules in force are still the last valid ones: the added rule is gone only with a valid file.
      expect((await get('https://open.example.com/blocked/x')).status).to.equal(403);
      // (moat chain logs would refuse the broken moat.yaml too: read the hop's log file.)
      const logs = readFileSync(join(chain.layout.logDir, '2-moat-policy.log'), 'utf8');
      expect(logs).to.contain('is not valid; the policy in force stays').and.contain('policy.rules[0].action');
    },
  );
});
