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
import tls from 'node:tls';
import { PROVIDER_CA_FILE, PROVIDER_ERROR_BODY } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import type { CliChain } from '../helpers/cli-chain';
import { connectPlain } from '../helpers/raw-client';
import { proxyAgent, timedRequest, type TimedResponse } from '../helpers/proxy-client';
import { REPO_ROOT } from '../helpers/repo-root';

const HOSTS = ['api.anthropic.com', 'blind.example.com', 'forbidden.example.com', 'outside.example.com'];
const MODELS = 'https://api.anthropic.com/v1/models';

/** The chain `proxies` with a blind host, a denied one, one outside egress.allow, all on the fake provider. */
function config(name: string, proxies: string, providerPort: number): string {
  const resolve = HOSTS.map((h) => `"${h}:443": "127.0.0.1:${providerPort}"`).join(', ');
  return [
    `name: ${name}`,
    `proxies: ${proxies}`,
    'tls: {intercept: [api.anthropic.com]}',
    'policy: {rules: [{id: no-forbidden, match: "forbidden.example.com/*", action: deny}]}',
    `egress: {allow: [${HOSTS.slice(0, 3).join(', ')}], extra_ca: ["${PROVIDER_CA_FILE}"], resolve: {${resolve}}}`,
    '',
  ].join('\n');
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
  }
  for (let i = 0; ; i++) {
    const a = await chain.agent();
    const res = await timedRequest(a, MODELS).catch(() => undefined);
    await a.close();
    if (res?.status === 200) return;
    if (i > 100) throw new Error(`the chain did not answer again after ${name} started`);
    await new Promise((r) => setTimeout(r, 200));
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

interface ConnectAnswer {
  status: number;
  head: string;
  body: string;
  socket: net.Socket;
}

/** A CONNECT with the chain token: the answer's text (head and body, up to the close or 200's head). */
async function connect(chain: CliChain, authority: string, keep = false): Promise<ConnectAnswer> {
  const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
  const auth = `Proxy-Authorization: Basic ${Buffer.from(`moat:${token}`).toString('base64')}`;
  const socket: net.Socket = await connectPlain((await chain.status()).find((r) => r.name === 'ingress').port);
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n\r\n`);
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
  if (!keep) socket.destroy();
  const end = text.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0),
    head: end < 0 ? text : text.slice(0, end),
    body: end < 0 ? '' : text.slice(end + 4),
    socket,
  };
}

/** A blind tunnel works end to end: TLS with the provider's own certificate, GET /v1/models answered. */
async function expectBlindTunnel(chain: CliChain): Promise<void> {
  const { status, head, socket } = await connect(chain, 'blind.example.com:443', true);
  expect(status, head).to.equal(200);
  const answer = await new Promise<string>((resolve, reject) => {
    const secure = tls.connect({ socket, servername: 'blind.example.com', ca: readFileSync(PROVIDER_CA_FILE) }, () => {
      secure.write('GET /v1/models HTTP/1.1\r\nHost: blind.example.com\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    secure.on('data', (d: Buffer) => (text += d.toString('utf8')));
    secure.once('end', () => resolve(text));
    secure.once('error', reject);
  });
  expect(answer)
    .to.match(/^HTTP\/1\.1 200/)
    .and.contain('claude-fake-1');
}

/** Policy and egress.allow refuse blind tunnels in the agent's CONNECT answer, without the mark. */
async function expectBlindRefusals(chain: CliChain): Promise<void> {
  const denied = await connect(chain, 'forbidden.example.com:443');
  expect(denied.status, denied.head).to.equal(403);
  expect(JSON.parse(denied.body)).to.deep.include({ error: 'policy_denied', rule: 'no-forbidden' });
  expect(denied.head.toLowerCase()).to.not.contain('x-moat-via');
  const outside = await connect(chain, 'outside.example.com:443');
  expect(outside.status, outside.head).to.equal(403);
  expect(JSON.parse(outside.body)).to.deep.include({ error: 'egress_denied' });
}

/** moat's JSON error naming hop `hop` (`name`) with `code`, as the agent got it. */
function expectNamed(
  res: { status: number; headers?: Record<string, unknown>; body: string },
  code: string,
  hop: number,
  name: string,
) {
  const body = JSON.parse(res.body);
  expect(body, res.body).to.deep.include({ error: code, hop, hop_name: name });
  expect(body.message).to.contain(`hop ${hop} (${name})`).and.contain('moat is the only way out');
  if (res.headers) expect(res.headers['x-moat-error']).to.equal(code);
  return body;
}

/** With the Moat process hop `hop` (`name`) stopped, a blind CONNECT gets 502 hop_unavailable naming it. */
async function expectConnectNamesStopped(chain: CliChain, hop: number, name: string): Promise<void> {
  await whileStopped(chain, `${hop}-${name}`, async () => {
    const tunnel = await connect(chain, 'blind.example.com:443');
    expect(tunnel.status, tunnel.head).to.equal(502);
    expectNamed({ status: tunnel.status, body: tunnel.body }, 'hop_unavailable', hop, name);
  });
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

  it('blind tunnels through mitmproxy (which says 200 at once) still open end to end', async () => {
    await expectBlindTunnel(chain);
    // Recorded once at every boundary: the tunnel the Moat process after mitmproxy opened first is the one used.
    const all = await chain.ledgerEvents((e) => e.host === 'blind.example.com' && e.direction === 'response', 5);
    expect(all.map((e) => e.boundary).sort()).to.deep.equal([0, 1, 2, 3, 4]);
    for (const e of all) expect(e).to.deep.include({ status: 200, intercepted: false });
    for (const e of all) expect(e.error).to.equal(undefined);
  });

  it("refusals behind mitmproxy answer the agent's CONNECT, not 200 then a close", async () => {
    await expectBlindRefusals(chain);
  });

  it('curl and a Node client (undici) see the refusal as the answer to their CONNECT, and pass where allowed', async () => {
    const port = (await chain.status()).find((r) => r.name === 'ingress').port;
    const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
    const curl = (url: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          'curl',
          [
            '-sS',
            '--max-time',
            '20',
            '--proxy',
            `http://moat:${token}@127.0.0.1:${port}`,
            '--cacert',
            PROVIDER_CA_FILE,
            url,
          ],
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
        ),
      );
    const refused = await curl('https://forbidden.example.com/v1/models');
    expect(refused.code, refused.stderr).to.equal(56);
    expect(refused.stderr).to.contain('CONNECT tunnel failed, response 403');
    const passed = await curl('https://blind.example.com/v1/models');
    expect(passed.code, passed.stderr).to.equal(0);
    expect(passed.stdout).to.contain('claude-fake-1');
    const node = proxyAgent(port, token, PROVIDER_CA_FILE);
    try {
      const err = await timedRequest(node, 'https://outside.example.com/v1/models').then(
        (res) => new Error(`answered ${res.status}`),
        (e: Error) => e,
      );
      expect(err.message).to.contain('403');
      expect((await timedRequest(node, 'https://blind.example.com/v1/models')).status).to.equal(200);
    } finally {
      await node.close();
    }
  });

  it("moat-telemetry down behind mitmproxy: the agent's CONNECT gets JSON naming hop 2", async () => {
    await expectConnectNamesStopped(chain, 2, 'moat-telemetry');
  });
});

/**
 * A chain with `proxies` for blind tunnels: one opens end to end, and refusals answer the agent's CONNECT (inside a
 * describe).
 */
function blindTunnelChain(name: string, proxies: string): CliChain {
  const { chain } = chainFixture({ name, config: (p) => config(name, proxies, p.port) });

  it('a blind tunnel opens end to end through the hop', async () => {
    await expectBlindTunnel(chain);
  });

  it("refusals behind the hop (policy, egress.allow) answer the agent's CONNECT, not 200 then a close", async () => {
    await expectBlindRefusals(chain);
  });
  return chain;
}

describe('errors that name the hop: blind tunnels through tinyproxy (isolated)', function () {
  this.timeout(180_000);
  const chain = blindTunnelChain('hoperr2', '[moat-telemetry, tinyproxy, moat-policy]');

  it("moat-policy down behind tinyproxy: the agent's CONNECT and its requests get JSON naming hop 3", async () => {
    await whileStopped(chain, '3-moat-policy', async () => {
      const started = performance.now();
      const tunnel = await connect(chain, 'blind.example.com:443');
      const ms = performance.now() - started;
      // tinyproxy answers 503 itself when its upstream refuses (its status is kept, its text quoted), or closes
      // (moat's 502).
      expect(tunnel.status, tunnel.head).to.be.oneOf([502, 503]);
      const body = expectNamed({ status: tunnel.status, body: tunnel.body }, 'hop_unavailable', 3, 'moat-policy');
      if (tunnel.status === 503) expect(body.message).to.contain('hop 2 (tinyproxy) answered 503');
      console.log(`      CONNECT answered ${tunnel.status} in ${ms.toFixed(0)} ms: ${body.message}`);
      const res = await get(chain, MODELS);
      expectNamed(res, res.status === 502 ? 'hop_unavailable' : 'hop_timeout', 3, 'moat-policy');
    });
  });
});

describe('errors that name the hop: blind tunnels through an isolated hop that dials itself (agentreserve)', function () {
  this.timeout(180_000);
  const chain = blindTunnelChain('hoperr3', '[moat-telemetry, {use: agentreserve, isolation: netns}, moat-policy]');

  it("moat-policy down behind it: the agent's CONNECT gets JSON naming hop 3", async () => {
    await expectConnectNamesStopped(chain, 3, 'moat-policy');
  });
});
