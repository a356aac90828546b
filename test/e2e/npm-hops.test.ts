// The two third-party proxies that install from npm, run for real by their manifest names:
// claude-code-router 2.0.0 (`ccr`, a base_url hop) and @agentreserve/proxy 0.1.0 (a forward proxy that
// dials destinations itself, so the last hop). .ci/run installs both; every destination is on 127.0.0.1.
import { expect } from 'chai';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { tmpDir } from '../helpers/tmp';
import { timedRequest } from '../helpers/proxy-client';
import type { MoatEvent } from '../../schemas/generated/event';

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, command)));
}

function requireBinary(command: string, pkg: string): void {
  if (!onPath(command))
    throw new Error(`"${command}" is not installed: sudo npm install -g ${pkg} (.ci/run does this)`);
}

/** Which addresses a port listens on, from /proc/net/tcp{,6} (hex ip:port, state 0A = LISTEN). */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const rows = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)),
  );
  return rows.filter((f) => f[3] === '0A' && f[1]?.endsWith(`:${hexPort}`)).map((f) => f[1]);
}

async function chainEvents(chain: CliChain, trace: string, count: number): Promise<MoatEvent[]> {
  for (let i = 0; ; i++) {
    const res = await chain.cli(['events', '--trace', trace, '--json']);
    const events = res.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as MoatEvent);
    if (events.length >= count || i >= 50) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm hops: claude-code-router 2.0.0 as a base_url hop, by its manifest name', function () {
  this.timeout(120_000);
  const HOP_KEY = 'sk-ant-ccr-own-key';
  const AGENT_KEY = 'sk-ant-agent-key';

  before(() => requireBinary('ccr', '@musistudio/claude-code-router@2.0.0'));
  const { chain, provider } = chainFixture({
    config: (provider) => `proxies:
  - moat-telemetry
  - use: claude-code-router
    env:
      ANTHROPIC_API_KEY: ${HOP_KEY}
  - tinyproxy
  - moat-policy
capture:
  bodies: full
${egressTo(provider.port)}
`,
    up: false,
  });

  const ccrRow = async () =>
    (await chain.status()).find((r) => r.name === 'claude-code-router' && r.role === 'third-party');

  it('plan renders its config: PROXY_URL is the next link, no APIKEY, the port in the environment', async () => {
    const plan = await chain.plan();
    const ccr = plan.processes.find((p: any) => p.role === 'third-party' && p.name === 'claude-code-router');
    const next = plan.processes[plan.processes.indexOf(ccr) + 1];
    expect(ccr.command).to.deep.equal(['ccr', 'start']);
    expect(ccr.env).to.deep.include({
      SERVICE_PORT: String(ccr.port),
      ANTHROPIC_API_KEY: HOP_KEY,
      NODE_EXTRA_CA_CERTS: chain.layout.caCertFile,
    });
    const config = ccr.files['.claude-code-router/config.json'];
    expect(config).to.contain(`"PROXY_URL": "http://moat:***@127.0.0.1:${next.port}"`);
    expect(config).to.contain(`"PORT": ${ccr.port}`);
    expect(config).to.not.contain('APIKEY');
  });

  it('starts in the foreground under pm2, with HOME in its hop directory, listening on 127.0.0.1 only', async () => {
    await chain.up();
    const ccr = await ccrRow();
    expect(ccr.state).to.equal('online');
    const environ = readFileSync(`/proc/${ccr.pid}/environ`, 'utf8').split('\0');
    const home = environ.find((e) => e.startsWith('HOME='))!.slice(5);
    expect(home).to.equal(join(chain.layout.stateDir, 'hops', '2-claude-code-router'));
    expect(readlinkSync(`/proc/${ccr.pid}/cwd`)).to.equal(home);
    const hex = ccr.port.toString(16).toUpperCase().padStart(4, '0');
    expect(listeners(ccr.port)).to.deep.equal([`0100007F:${hex}`]);
  });

  it(
    'a JSON POST /v1/messages: routed by ccr to its model, ' + 'with its own key, through the rest of the chain',
    async () => {
      const res = await chain.postMessage('hi', { 'x-api-key': AGENT_KEY, 'anthropic-version': '2023-06-01' });
      expect(res.status, res.body).to.equal(200);
      // ccr parses the answer and sends it again: the same JSON, not the same bytes.
      expect(JSON.parse(res.body)).to.deep.equal({
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: 'hello' }],
        usage: { input_tokens: 12, output_tokens: 3 },
      });
      const seen = provider.seen[provider.seen.length - 1];
      expect(seen).to.deep.include({ method: 'POST', host: 'api.anthropic.com', path: '/v1/messages' });
      expect(JSON.parse(seen.body)).to.deep.include({ model: 'claude-sonnet-4-5', stream: false });
      expect(seen.headers['x-api-key']).to.equal(HOP_KEY);
      expect(seen.headers['anthropic-version']).to.equal('2023-06-01');
      expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-moat-'))).to.deep.equal([]);
    },
  );

  it('an SSE answer arrives event by event, not in one burst', async () => {
    const res = await chain.postMessage('hi', {}, { stream: true });
    expect(res.status, res.body).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/event-stream/);
    const ticks = res.chunks.filter((c) => c.text.includes('event: tick'));
    expect(res.body.match(/event: tick/g)).to.have.length(5);
    // The fake provider sends 5 events 50 ms apart; a buffering hop would hand them over at once.
    expect(ticks.length, 'chunks carrying events').to.be.at.least(4);
    const gaps = ticks.slice(1).map((c, i) => c.at - ticks[i].at);
    for (const gap of gaps) expect(gap).to.be.within(15, 400);
    expect(ticks[ticks.length - 1].at - ticks[0].at).to.be.at.least(120);
  });

  it("events show the request at every boundary, ccr's hop named, with the trace kept across it", async () => {
    let atCcr: MoatEvent[] = [];
    for (let i = 0; i < 50 && atCcr.length < 2; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      const res = await chain.cli(['events', '--hop', '2', '--json']);
      atCcr = res.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as MoatEvent)
        .filter((e) => e.direction === 'request' && e.method === 'POST');
    }
    expect(atCcr.length, 'the JSON and the SSE request').to.equal(2);
    expect(atCcr[0]).to.deep.include({
      hop: 2,
      hop_name: 'claude-code-router',
      host: 'api.anthropic.com',
      path: '/v1/messages',
    });
    const all = await chainEvents(chain, atCcr[0].trace, 10);
    const requests = all.filter((e) => e.direction === 'request');
    expect(requests.map((e) => `${e.boundary}:${e.hop_name}`)).to.have.members([
      '0:moat-telemetry',
      '1:claude-code-router',
      '2:tinyproxy',
      '3:moat-policy',
      '4:egress',
    ]);
    // ccr passes the client's headers on, x-moat-trace included: the boundary after it knows the request exactly.
    expect(requests.find((e) => e.boundary === 2)!.correlation ?? 'exact').to.equal('exact');
  });

  it('tap 2 shows what ccr changed: the model', async () => {
    const tap = await chain.tapOne(2, () => chain.postMessage('hi'));
    expect(tap.code).to.equal(0);
    const record = JSON.parse(tap.stdout.trim());
    expect(record).to.deep.include({ hop: 2, hopName: 'claude-code-router', method: 'POST', path: '/v1/messages' });
    expect(record.requestBody).to.include('model: "claude-x" -> "claude-sonnet-4-5"');
  });

  it('its files are in its hop directory, and its logs do not hold the provider key', async () => {
    const dir = join(chain.layout.stateDir, 'hops', '2-claude-code-router');
    const own = join(dir, '.claude-code-router');
    expect(readdirSync(own)).to.include.members(['config.json', '.claude-code-router.pid', 'logs', 'plugins']);
    expect(existsSync(join(dir, '.claude.json'))).to.equal(true);
    // Its pid in its own PID namespace (it runs isolated): not a pid of this machine's.
    expect(readFileSync(join(own, '.claude-code-router.pid'), 'utf8').trim()).to.match(/^\d+$/);
    const logs = readdirSync(join(own, 'logs'));
    expect(logs.length).to.be.at.least(1);
    const text = logs.map((f) => readFileSync(join(own, 'logs', f), 'utf8')).join('');
    expect(text).to.contain('/v1/messages');
    expect(text).to.not.contain(HOP_KEY);
  });
});

/** A plain-HTTP server on 127.0.0.1 that answers with what it received. */
class EchoServer {
  readonly seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  private readonly server = http.createServer((req, res) => {
    this.seen.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, echo: true }));
    });
  });
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** An HTTPS server on 127.0.0.1 with a self-signed certificate nobody trusts. */
async function untrustedServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = tmpDir('moat-selfsigned-');
  const key = join(dir.path, 'key.pem');
  const cert = join(dir.path, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) =>
    res.end('should not be read'),
  );
  dir.remove();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('npm hops: agentreserve 0.1.0, the last hop, dialing local destinations itself', function () {
  this.timeout(120_000);
  let provider: FakeProvider;
  let echo: EchoServer;
  let untrusted: { port: number; stop(): Promise<void> };
  const chain = new CliChain();

  before(async () => {
    requireBinary('agentreserve-proxy', '@agentreserve/proxy@0.1.0');
    provider = await new FakeProvider().start();
    echo = await new EchoServer().start();
    untrusted = await untrustedServer();
    // Its rules in its own format, by overriding the manifest's agentreserve.yaml. A pattern ending in /*
    // matches on the host alone in 0.1.0, so the path rule ends in /**.
    chain.writeConfig(`proxies:
  - moat-telemetry
  - use: agentreserve
    isolation: none
    files:
      agentreserve.yaml: |
        proxy:
          host: 127.0.0.1
          port: {port}
        rules:
          - match: "localhost/*"
            action: deny
            reason: no localhost
          - match: "*/blocked/**"
            action: deny
            reason: blocked by agentreserve
          - match: "*"
            action: log
capture:
  bodies: full
egress:
  allow: [127.0.0.1, localhost]
  extra_ca: ["${PROVIDER_CA_FILE}"]
`);
    await chain.up();
  });

  after(async () => {
    await chain.cleanup();
    await untrusted.stop();
    await echo.stop();
    await provider.stop();
  });

  const arRow = async () => (await chain.status()).find((r) => r.name === 'agentreserve' && r.role === 'third-party');

  it('runs by its manifest name with its own config file from the {use, files} override', async () => {
    const ar = await arRow();
    expect(ar.state).to.equal('online');
    expect(readFileSync(`/proc/${ar.pid}/cmdline`, 'utf8').split('\0')).to.include.members(['-p', String(ar.port)]);
    const dir = join(chain.layout.stateDir, 'hops', '2-agentreserve');
    expect(readlinkSync(`/proc/${ar.pid}/cwd`)).to.equal(dir);
    expect(readFileSync(join(dir, 'agentreserve.yaml'), 'utf8')).to.contain('blocked by agentreserve');
    const hex = ar.port.toString(16).toUpperCase().padStart(4, '0');
    expect(listeners(ar.port)).to.deep.equal([`0100007F:${hex}`]);
  });

  it(
    'HTTPS through its CONNECT tunnel: TLS from the link in front of it to the provider, checked against ' +
      'egress.extra_ca',
    async () => {
      await chain.expectModels(`https://127.0.0.1:${provider.port}/v1/models`, { 'x-api-key': 'sk-ant-placeholder' });
      const seen = provider.seen[provider.seen.length - 1];
      expect(seen.path).to.equal('/v1/models');
      expect(seen.headers['proxy-authorization']).to.equal(undefined);
      expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-moat-'))).to.deep.equal([]);
    },
  );

  it('a destination whose certificate does not verify: 502 upstream_tls from the link in front of it', async () => {
    const a = await chain.agent();
    const res = await timedRequest(a, `https://127.0.0.1:${untrusted.port}/`);
    await a.close();
    expect(res.status).to.equal(502);
    expect(JSON.parse(res.body)).to.deep.include({ error: 'upstream_tls' });
    expect(JSON.parse(res.body).message).to.match(/^127\.0\.0\.1: certificate did not verify \(/);
  });

  it('plain HTTP: forwarded by agentreserve itself, without the chain token or x-moat-* headers', async () => {
    const a = await chain.agent();
    const res = await timedRequest(a, `http://127.0.0.1:${echo.port}/hello?x=1`);
    await a.close();
    expect(res.status, res.body).to.equal(200);
    expect(JSON.parse(res.body)).to.deep.equal({ url: '/hello?x=1', echo: true });
    const seen = echo.seen[echo.seen.length - 1];
    // agentreserve passes a request's headers on as they come, Proxy-Authorization included: the link sends it none.
    expect(seen.headers['proxy-authorization']).to.equal(undefined);
    expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-moat-'))).to.deep.equal([]);
  });

  it(
    'its own deny rule answers 403 and the destination never sees the request; the audit db in its directory ' +
      'has it',
    async () => {
      const before = echo.seen.length;
      const a = await chain.agent();
      const res = await timedRequest(a, `http://127.0.0.1:${echo.port}/blocked/x`);
      await a.close();
      expect(res.status).to.equal(403);
      expect(JSON.parse(res.body).error).to.deep.include({ code: 'PROXY_DENIED', message: 'blocked by agentreserve' });
      expect(echo.seen.length).to.equal(before);
      const dir = join(chain.layout.stateDir, 'hops', '2-agentreserve');
      expect(existsSync(join(dir, 'agentreserve-audit.db'))).to.equal(true);
      // Its dashboard API on its own port (the health endpoint is /_/api/stats) reads that database.
      const ar = await arRow();
      const audit = JSON.parse(await getText(`http://127.0.0.1:${ar.port}/_/api/audit?decision=deny`));
      expect(audit.data.map((r: any) => `${r.method} ${r.url} ${r.policy_reason}`)).to.include(
        `GET http://127.0.0.1:${echo.port}/blocked/x blocked by agentreserve`,
      );
      const stats = JSON.parse(await getText(`http://127.0.0.1:${ar.port}/_/api/stats`));
      expect(stats.stats.total_denied).to.be.at.least(1);
    },
  );

  it('a deny of a CONNECT (its rules see only the host of a tunnel): 502 naming the hop', async () => {
    const before = provider.seen.length;
    const restarts = (await arRow()).restarts;
    const a = await chain.agent();
    const res = await timedRequest(a, `https://localhost:${provider.port}/v1/models`);
    await a.close();
    expect(res.status).to.equal(502);
    expect(JSON.parse(res.body)).to.deep.include({ error: 'hop_failed', hop: 2, hop_name: 'agentreserve' });
    expect(JSON.parse(res.body).message).to.contain('answered CONNECT with 403 Forbidden');
    expect(provider.seen.length).to.equal(before);
    // 0.1.0 crashes on a client that resets a denied tunnel (no error handler); the link closes it cleanly.
    await new Promise((r) => setTimeout(r, 300));
    expect((await arRow()).restarts).to.equal(restarts);
  });

  it('egress.allow still holds: the link in front of it refuses other hosts before agentreserve dials', async () => {
    const a = await chain.agent();
    const res = await timedRequest(a, `http://127.0.0.2:${echo.port}/`);
    await a.close();
    expect(res.status).to.equal(403);
    expect(JSON.parse(res.body)).to.deep.include({ error: 'egress_denied' });
    expect(JSON.parse(res.body).message).to.contain(
      'hop 2 (agentreserve), which connects to destinations itself, may not connect to 127.0.0.2',
    );
  });

  it('the events name it; egress, which it bypasses, records nothing', async () => {
    const events: MoatEvent[] = await chain.events();
    const atAr = events.filter((e) => e.hop === 2 && e.direction === 'request');
    expect(atAr.map((e) => e.hop_name)).to.include('agentreserve');
    expect(atAr.map((e) => e.host)).to.include.members(['127.0.0.1']);
    expect(events.filter((e) => e.hop_name === 'egress')).to.deep.equal([]);
  });
});

describe('npm hops: agentreserve by its bare name, last and not last', function () {
  this.timeout(60_000);
  const chain = new CliChain();
  after(() => chain.cleanup());

  it(
    'last, with isolation: none: plan renders its config in its directory, and its link takes over ' +
      'egress.allow and extra_ca',
    async () => {
      chain.writeConfig(
        'proxies:\n  - moat-telemetry\n  - use: agentreserve\n    isolation: none\negress:\n  allow: ' +
          '[api.anthropic.com]\n',
      );
      const res = await chain.cli(['plan', '--json']);
      expect(res.code, res.stderr).to.equal(0);
      const plan = JSON.parse(res.stdout);
      const ar = plan.processes.find((p: any) => p.role === 'third-party');
      const dir = join(chain.layout.stateDir, 'hops', '2-agentreserve');
      expect(ar.command).to.deep.equal(['agentreserve-proxy', '-p', String(ar.port)]);
      expect(ar.cwd).to.equal(dir);
      expect(ar.files['agentreserve.yaml'])
        .to.contain('host: 127.0.0.1')
        .and.contain(`path: ${dir}/agentreserve-audit.db`);
      const link = plan.processes.find((p: any) => p.role === 'link');
      expect(link.spec.onward).to.deep.include({ kind: 'last_hop', allow: ['api.anthropic.com'], extraCa: [] });
    },
  );

  it(
    'not last: isolated by default, it may stand anywhere; with isolation: none plan refuses it with exit code ' +
      '1, naming the rule',
    async () => {
      const isolated = await chain.plan('proxies:\n  - agentreserve\n  - moat-telemetry\n');
      expect(isolated.processes.find((p: any) => p.role === 'third-party').isolation).to.equal('netns');
      chain.writeConfig('proxies:\n  - use: agentreserve\n    isolation: none\n  - moat-telemetry\n');
      const res = await chain.cli(['plan']);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.contain(
        '"agentreserve" connects to destinations itself (it has no upstream setting), so with isolation: none ' +
          'it can only be the last hop before egress; it is hop 1 of 2',
      );
      expect(res.stderr).to.contain('MOAT_ERR_UNKNOWN_HOP');
    },
  );
});

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

describe('npm hops: claude-code-router behind the credential boundary (grants)', function () {
  this.timeout(120_000);
  const REAL = 'sk-ant-api03-REALKEYccr0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab-AA';

  before(() => requireBinary('ccr', '@musistudio/claude-code-router@2.0.0'));
  const { chain, provider } = chainFixture({
    env: { ANTHROPIC_API_KEY: REAL },
    config: (provider) => `proxies:
  - claude-code-router
  - moat-policy
grants: [anthropic]
${egressTo(provider.port)}
`,
  });

  it('ccr sends the placeholder it was given as its provider key; egress swaps it for the real key', async () => {
    const a = await chain.agent();
    const res = await timedRequest(a, 'https://api.anthropic.com/v1/messages', {
      method: 'POST',
      body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      headers: { 'content-type': 'application/json' },
    });
    await a.close();
    expect(res.status, res.body).to.equal(200);
    const seen = provider.seen.pop()!;
    expect(seen.headers['x-api-key']).to.equal(REAL);
    const ccr = (await chain.status()).find((r) => r.name === 'claude-code-router' && r.role === 'third-party');
    const environ = readFileSync(`/proc/${ccr.pid}/environ`, 'utf8');
    expect(environ).to.not.contain(REAL);
    expect(environ).to.match(/ANTHROPIC_API_KEY=sk-ant-api03-/);
  });
});
