// Errors that name the hop, whatever sits between (issue 18, point 4), with real mitmdump and tinyproxy (isolated in
// network namespaces, the default). A Moat process after a third-party hop that is down used to reach the agent as
// the hop's own error page (mitmproxy's HTML 502) or as "did not answer in time" naming the hop; the agent now gets
// moat's JSON naming the process that failed. A provider's own 5xx still passes every hop unchanged, and the mark the
// Moat process after a hop puts on its answers (x-moat-via) never reaches the agent.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import { PROVIDER_CA_FILE, PROVIDER_ERROR_BODY } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import type { CliChain } from '../helpers/cli-chain';
import { connectPlain } from '../helpers/raw-client';
import { timedRequest, type TimedResponse } from '../helpers/proxy-client';
import { REPO_ROOT } from '../helpers/repo-root';

const HOSTS = ['api.anthropic.com', 'blind.example.com', 'forbidden.example.com', 'outside.example.com'];
const MODELS = 'https://api.anthropic.com/v1/models';

function config(name: string, proxies: string, providerPort: number): string {
  return `name: ${name}
proxies: ${proxies}
tls:
  intercept: ["api.anthropic.com"]
policy:
  rules:
    - id: no-forbidden
      match: "forbidden.example.com/*"
      action: deny
egress:
  allow: [api.anthropic.com, blind.example.com, forbidden.example.com]
  resolve:
${HOSTS.map((h) => `    "${h}:443": "127.0.0.1:${providerPort}"`).join('\n')}
  extra_ca: ["${PROVIDER_CA_FILE}"]
`;
}

/** `pm2 <args>` against the chain's own daemon. */
function pm2(chain: CliChain, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      join(REPO_ROOT, 'node_modules', '.bin', 'pm2'),
      args,
      { env: { ...process.env, PM2_HOME: chain.layout.pm2Home } },
      (err, out, errOut) => (err ? reject(new Error(`pm2 ${args.join(' ')}: ${errOut}`)) : resolve(out)),
    ),
  );
}

/** The pm2 app of the Moat process `name` (hop number and name: "2-moat-telemetry"). */
async function appOf(chain: CliChain, name: string): Promise<string> {
  const out = await pm2(chain, ['jlist']);
  const list = JSON.parse(out.slice(out.indexOf('[{'))) as { name: string }[];
  const app = list.find((p) => p.name.endsWith(`:${name}`));
  if (!app) throw new Error(`no pm2 app ${name} in ${list.map((p) => p.name).join(', ')}`);
  return app.name;
}

/** Stops the Moat process `name` (pm2 keeps it stopped) for `during`, then starts it again and waits for the chain. */
async function whileStopped(chain: CliChain, name: string, during: () => Promise<void>): Promise<void> {
  const app = await appOf(chain, name);
  await pm2(chain, ['stop', app]);
  try {
    await during();
  } finally {
    await pm2(chain, ['start', app]);
    for (let i = 0; ; i++) {
      const a = await chain.agent();
      const res = await timedRequest(a, MODELS).catch(() => undefined);
      await a.close();
      if (res?.status === 200) break;
      if (i > 100) throw new Error(`the chain did not answer again after ${name} started`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function get(chain: CliChain, url: string): Promise<TimedResponse> {
  const a = await chain.agent();
  try {
    return await timedRequest(a, url);
  } finally {
    await a.close();
  }
}

/** A CONNECT with the chain token: the answer's text (head and body, up to the close or 200's head). */
async function connect(chain: CliChain, authority: string): Promise<{ status: number; head: string; body: string }> {
  const port = (await chain.status()).find((r) => r.name === 'ingress').port;
  const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
  const socket: net.Socket = await connectPlain(port);
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic ` +
      `${Buffer.from(`moat:${token}`).toString('base64')}\r\n\r\n`,
  );
  const text = await new Promise<string>((resolve) => {
    let got = '';
    const timer = setTimeout(() => resolve(got), 20_000);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (/^HTTP\/1\.[01] 200/.test(got) && got.includes('\r\n\r\n')) resolve(got);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.once('error', () => resolve(got));
  });
  socket.destroy();
  const end = text.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0),
    head: end < 0 ? text : text.slice(0, end),
    body: end < 0 ? '' : text.slice(end + 4),
  };
}

/** moat's JSON error naming hop `hop` (`name`) with `code`, as the agent got it. */
function expectNamed(res: { status: number; headers?: Record<string, unknown>; body: string }, code: string, hop: number, name: string) {
  const body = JSON.parse(res.body);
  expect(body, res.body).to.deep.include({ error: code, hop, hop_name: name });
  expect(body.message).to.contain(`hop ${hop} (${name})`).and.contain('moat is the only way out');
  if (res.headers) expect(res.headers['x-moat-error']).to.equal(code);
  return body;
}

describe('errors that name the hop: mitmproxy and tinyproxy in the chain', function () {
  this.timeout(180_000);
  const { chain, provider } = chainFixture({
    name: 'hoperr',
    config: (p) => config('hoperr', '[mitmproxy, moat-telemetry, tinyproxy, moat-policy]', p.port),
  });

  it("a provider's own 503 passes mitmproxy and tinyproxy unchanged, without moat's mark", async () => {
    const res = await get(chain, 'https://api.anthropic.com/status/503');
    expect(res.status).to.equal(503);
    expect(res.body).to.equal(PROVIDER_ERROR_BODY);
    expect(res.headers['x-fake-provider']).to.equal('1');
    expect(res.headers['x-moat-error']).to.equal(undefined);
    expect(res.headers['x-moat-via']).to.equal(undefined);
    expect(provider.seen.at(-1)?.path).to.equal('/status/503');
    const ok = await get(chain, MODELS);
    expect(ok.status).to.equal(200);
    expect(ok.headers['x-moat-via']).to.equal(undefined);
  });

  it('moat-telemetry down behind mitmproxy: not its HTML 502, but JSON naming hop 2, the page quoted', async () => {
    await whileStopped(chain, '2-moat-telemetry', async () => {
      const res = await get(chain, MODELS);
      expect(res.status).to.equal(502);
      expect(res.headers['content-type']).to.equal('application/json');
      const body = expectNamed(res, 'hop_unavailable', 2, 'moat-telemetry');
      expect(body.message).to.contain('hop 1 (mitmproxy) answered 502');
      expect(body.hop_status).to.equal(502);
      expect(body.hop_answer).to.be.a('string').and.not.contain('<');
      // What the link in front of mitmproxy answered is what its boundary recorded.
      const [event] = await chain.ledgerEvents(
        (e) => e.boundary === 0 && e.direction === 'response' && e.status === 502 && e.path === '/v1/models',
        1,
      );
      expect(event).to.deep.include({ status: 502, error: 'hop_unavailable' });
    });
  });

  it('moat-policy down behind tinyproxy: JSON naming hop 4, through mitmproxy too', async () => {
    await whileStopped(chain, '4-moat-policy', async () => {
      const started = performance.now();
      const res = await get(chain, MODELS);
      const ms = performance.now() - started;
      expect(res.status, res.body).to.be.oneOf([502, 504]);
      expectNamed(res, res.status === 502 ? 'hop_unavailable' : 'hop_timeout', 4, 'moat-policy');
      expect(res.headers['x-moat-via']).to.equal(undefined);
      console.log(`      moat-policy down behind tinyproxy: answered ${res.status} in ${ms.toFixed(0)} ms`);
    });
  });
});

describe('errors that name the hop: blind tunnels through tinyproxy (isolated)', function () {
  this.timeout(180_000);
  const { chain } = chainFixture({
    name: 'hoperr2',
    config: (p) => config('hoperr2', '[moat-telemetry, tinyproxy, moat-policy]', p.port),
  });

  it("a policy denial behind tinyproxy answers the agent's CONNECT, naming the rule, without the mark", async () => {
    const res = await connect(chain, 'forbidden.example.com:443');
    expect(res.status, res.head).to.equal(403);
    expect(JSON.parse(res.body)).to.deep.include({ error: 'policy_denied', rule: 'no-forbidden' });
    expect(res.head.toLowerCase()).to.not.contain('x-moat-via');
  });

  it('egress.allow behind tinyproxy answers the CONNECT with egress_denied', async () => {
    const res = await connect(chain, 'outside.example.com:443');
    expect(res.status, res.head).to.equal(403);
    expect(JSON.parse(res.body)).to.deep.include({ error: 'egress_denied' });
  });

  it("moat-policy down behind tinyproxy: the agent's CONNECT and its requests get JSON naming hop 3", async () => {
    await whileStopped(chain, '3-moat-policy', async () => {
      const tunnel = await connect(chain, 'blind.example.com:443');
      expect(tunnel.status, tunnel.head).to.be.oneOf([502, 504]);
      expectNamed({ status: tunnel.status, body: tunnel.body }, tunnel.status === 502 ? 'hop_unavailable' : 'hop_timeout', 3, 'moat-policy');
      const res = await get(chain, MODELS);
      expectNamed(res, res.status === 502 ? 'hop_unavailable' : 'hop_timeout', 3, 'moat-policy');
    });
  });
});
