// moat chain policy learn: traffic recorded in report mode becomes a policy: section that, pasted into moat.yaml in
// enforce mode, lets all of that traffic through (ids that varied as *) and denies anything else (a method not seen
// too).
import { expect } from 'chai';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';

const HOSTS = ['api.anthropic.com', 'api.openai.com', 'mcp.example.com'];
const tool = (name: string) =>
  JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: {} } });

interface Req {
  method: string;
  url: string;
  body?: string;
}

const SEEN: Req[] = [
  { method: 'POST', url: 'https://api.anthropic.com/v1/messages', body: '{"model":"m","messages":[]}' },
  { method: 'POST', url: 'https://api.anthropic.com/v1/messages', body: '{"model":"m","messages":[]}' },
  { method: 'GET', url: 'https://api.openai.com/v1/models' },
  { method: 'GET', url: 'https://api.openai.com/v1/threads/abc123/runs' },
  { method: 'GET', url: 'https://api.openai.com/v1/threads/def456/runs' },
  { method: 'GET', url: 'https://api.openai.com/v1/threads/0a1b2c/runs' },
  { method: 'POST', url: 'https://mcp.example.com/mcp', body: '{"jsonrpc":"2.0","id":1,"method":"initialize"}' },
  { method: 'POST', url: 'https://mcp.example.com/mcp', body: tool('read_file') },
];

describe('moat chain policy learn', function () {
  this.timeout(180_000);
  const base = (port: number) => `proxies: [moat-telemetry, moat-policy]
capture:
  bodies: redacted
${egressTo(port, HOSTS)}
`;
  const { chain, provider } = chainFixture({
    config: (p) => `${base(p.port)}policy:\n  mode: report\n  rules: []\n`,
  });

  async function send(list: Req[]) {
    const agent = await chain.agent();
    try {
      const out = [];
      for (const r of list) {
        const res = await timedRequest(agent, r.url, {
          method: r.method,
          body: r.body,
          headers: r.body ? { 'content-type': 'application/json' } : {},
        });
        out.push({ ...r, status: res.status, body: res.body });
      }
      return out;
    } finally {
      await agent.close();
    }
  }
  const denied = (r: { status: number; body: string }) =>
    r.status === 403 || /"code":-32001/.test(r.body) || /policy_denied/.test(r.body);

  let learned = '';

  it('prints a policy: section from the ledger, commented with counts, ids generalised, ending in deny-all', async () => {
    const first = await send(SEEN);
    expect(first.filter(denied), 'report mode lets everything through').to.deep.equal([]);
    await chain.ledgerEvents((e) => e.boundary === 0 && e.direction === 'request', SEEN.length);
    const res = await chain.cli(['policy', 'learn']);
    expect(res.code, res.stderr).to.equal(0);
    learned = res.stdout;
    expect(learned).to.contain('# 3 request(s), 3 distinct paths: GET 3');
    expect(learned).to.contain('match: api.openai.com/v1/threads/*/runs');
    expect(learned).to.contain('# 2 request(s): POST 2').and.contain('match: api.anthropic.com/v1/messages');
    expect(learned).to.contain('tool: read_file').and.contain('# MCP tool read_file: 1 call(s)');
    expect(learned.trimEnd()).to.match(/match: "\*"\n\s+action: deny\n\s+reason: .*$/);
    const json = JSON.parse((await chain.cli(['policy', 'learn', '--json'])).stdout);
    expect(json.policy.rules[json.policy.rules.length - 1]).to.include({ match: '*', action: 'deny' });
  });

  it('--since: a window with no requests is an error that says how to get some', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const res = await chain.cli(['policy', 'learn', '--since', '1s']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('MOAT_ERR_LEARN_NOTHING').and.contain('in the last 1s');
    const bad = await chain.cli(['policy', 'learn', '--since', 'yesterday']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--since takes a duration such as 30m');
  });

  it('in enforce mode the learned rules allow all the traffic seen and deny anything else', async () => {
    chain.writeConfig(`${base(provider.port)}${learned}`);
    const unseen: Req[] = [
      { method: 'GET', url: 'https://api.openai.com/v1/files' },
      { method: 'POST', url: 'https://api.anthropic.com/v1/complete', body: '{}' },
      { method: 'POST', url: 'https://mcp.example.com/mcp', body: tool('delete_file') },
      { method: 'GET', url: 'https://mcp.example.com/admin' },
      // A method not seen on a path seen.
      { method: 'DELETE', url: 'https://api.anthropic.com/v1/messages' },
      { method: 'POST', url: 'https://api.openai.com/v1/models', body: '{}' },
    ];
    // moat-policy re-reads moat.yaml within 250 ms: until then nothing is denied.
    let results: Awaited<ReturnType<typeof send>> = [];
    for (let i = 0; i < 40; i++) {
      results = await send(unseen);
      if (results.every(denied)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(
      results.filter((r) => !denied(r)).map((r) => r.url),
      'everything not seen is denied',
    ).to.deep.equal([]);
    const again = await send(SEEN);
    expect(
      again.filter(denied).map((r) => `${r.method} ${r.url}`),
      'everything seen still goes',
    ).to.deep.equal([]);
    // A new id where ids varied is the same kind of request: allowed.
    const [newId] = await send([{ method: 'GET', url: 'https://api.openai.com/v1/threads/fff999/runs' }]);
    expect(denied(newId)).to.equal(false);
  });
});
