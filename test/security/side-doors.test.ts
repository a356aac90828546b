// The agent tries every door of a running chain but the front one (security invariant 2). It holds what
// `moat chain env` gives it (ingress's token) and can find every port (status, a scan of 127.0.0.1). Each
// Moat listener but ingress takes only the credential of the process before it, by every entrance it has:
// CONNECT, absolute-form http://, link TLS, a base-URL path, a trace claim. A third-party hop's credential
// (readable in its own config file) opens the link after it and nothing else.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { request } from 'undici';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { collect, rawExchange } from '../helpers/raw-client';
import type { Plan, PlannedProcess } from '../../supervisor/chain/plan';

const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;
const basic = (credential: string) => `Basic ${Buffer.from(`moat:${credential}`).toString('base64')}`;

/** The first line of what a listener answers to `payload`, sent on a new plain connection. */
async function statusLine(port: number, payload: string): Promise<string> {
  const reply = await rawExchange(port, payload, 3000);
  return reply.head.split('\r\n')[0];
}

/**
 * Link TLS: a TLS connection to the listener itself, at its port or its Unix socket (as the Moat process before it
 * opens), then one request.
 */
async function overLinkTls(to: number | string, ca: string, requestText: string): Promise<string> {
  const where = typeof to === 'number' ? { host: '127.0.0.1', port: to } : { path: to };
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ ...where, servername: 'moat-link.invalid', ca }, () => resolve(s));
    s.once('error', reject);
  });
  const reply = collect(secure, 3000);
  secure.write(requestText);
  return (await reply).head.split('\r\n')[0];
}

describe("side doors: the agent's token opens ingress and no other listener of the chain", function () {
  this.timeout(180_000);
  let plan: Plan;
  let agentToken: string;
  let moatCa: string;

  const { chain, provider } = chainFixture({
    name: 'doors',
    config: (provider) => `name: doors
proxies:
  - moat-telemetry
  - use: tinyproxy
  - moat-policy
policy:
  rules:
    - match: "api.anthropic.com/admin/*"
      action: deny
      reason: admin API is off limits
grants: [anthropic]
${egressTo(provider.port)}
`,
    up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
  });

  before(() => {
    plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
    agentToken = readFileSync(chain.layout.tokenFile, 'utf8').trim();
    moatCa = readFileSync(chain.layout.caCertFile, 'utf8');
  });

  const moatListeners = (): PlannedProcess[] => plan.processes.filter((p) => p.spec && p.role !== 'ingress');
  const adminRequests = () => provider.seen.filter((r) => r.path.startsWith('/admin'));

  it('through ingress: the admin API is denied, other calls pass with the real key put in at egress', async () => {
    const agent = await chain.agent();
    const denied = await request('https://api.anthropic.com/admin/users', { dispatcher: agent });
    expect(denied.statusCode).to.equal(403);
    await denied.body.text();
    const allowed = await request('https://api.anthropic.com/v1/models', {
      dispatcher: agent,
      headers: { 'x-api-key': JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).placeholders.ANTHROPIC_API_KEY },
    });
    expect(allowed.statusCode).to.equal(200);
    await allowed.body.text();
    await agent.close();
    expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(REAL_KEY);
    expect(adminRequests()).to.have.length(0);
  });

  it("CONNECT with the agent's token, or none, is refused 407 by every other Moat listener", async () => {
    for (const p of moatListeners()) {
      for (const auth of [`Proxy-Authorization: ${basic(agentToken)}\r\n`, '']) {
        const line = await statusLine(
          p.port,
          `CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n${auth}\r\n`,
        );
        expect(line, `${p.id} CONNECT ${auth ? 'with the agent token' : 'without credential'}`).to.match(
          /^HTTP\/1\.1 407/,
        );
      }
    }
  });

  it("absolute-form http:// with the agent's token is refused 407 by every other Moat listener", async () => {
    for (const p of moatListeners()) {
      const line = await statusLine(
        p.port,
        `GET http://api.anthropic.com/admin/users HTTP/1.1\r\nHost: ` +
          `api.anthropic.com\r\nProxy-Authorization: ${basic(agentToken)}\r\nConnection: close\r\n\r\n`,
      );
      expect(line, p.id).to.match(/^HTTP\/1\.1 407/);
    }
  });

  it("link TLS (absolute-form https:// inside TLS to the listener) with the agent's token is refused 407", async () => {
    for (const p of moatListeners()) {
      const line = await overLinkTls(
        p.port,
        moatCa,
        `GET https://api.anthropic.com/admin/users HTTP/1.1\r\nHost: ` +
          `api.anthropic.com\r\nProxy-Authorization: ${basic(agentToken)}\r\nConnection: close\r\n\r\n`,
      );
      expect(line, p.id).to.match(/^HTTP\/1\.1 407/);
    }
  });

  // A Moat process after a Moat process also takes link TLS on a Unix socket (hops/runtime/unix-listener.ts).
  const socketListeners = () => moatListeners().filter((p) => p.spec!.socket);

  it("each Moat process after a Moat process has a socket of its own: this user's alone, and the chain uses it", async () => {
    // 3-moat-policy comes after tinyproxy, which speaks TCP only; ingress is the agent's door.
    expect(socketListeners().map((p) => p.id)).to.deep.equal(['1-moat-telemetry', '2-link', '4-egress']);
    const agent = await chain.agent();
    const res = await request('https://api.anthropic.com/v1/models', { dispatcher: agent });
    await res.body.text();
    expect(res.statusCode).to.equal(200);
    const unixTable = readFileSync('/proc/net/unix', 'utf8').split('\n');
    for (const p of socketListeners()) {
      const path = p.spec!.socket!;
      const found = lstatSync(path);
      expect(found.isSocket(), path).to.equal(true);
      expect(found.mode & 0o777, path).to.equal(0o600);
      expect(found.uid, path).to.equal(process.getuid!());
      expect(statSync(dirname(path)).mode & 0o777, dirname(path)).to.equal(0o700);
      // State 03: a connection accepted on that path, kept alive in the pool of the process before it.
      const accepted = unixTable.filter((line) => line.endsWith(` ${path}`) && line.split(/\s+/)[5] === '03');
      expect(accepted.length, `connections on ${path}`).to.be.greaterThan(0);
    }
    await agent.close();
  });

  it("over each socket, link TLS with the agent's token, or none, is refused 407", async () => {
    for (const p of socketListeners()) {
      for (const auth of [`Proxy-Authorization: ${basic(agentToken)}\r\n`, '']) {
        const line = await overLinkTls(
          p.spec!.socket!,
          moatCa,
          `GET https://api.anthropic.com/admin/users HTTP/1.1\r\nHost: api.anthropic.com\r\n${auth}` +
            'Connection: close\r\n\r\n',
        );
        expect(line, `${p.id} ${auth ? 'with the agent token' : 'without credential'}`).to.match(/^HTTP\/1\.1 407/);
      }
    }
  });

  it('a socket takes link TLS only: CONNECT in the clear is closed unanswered, even with the right credential', async () => {
    for (const p of socketListeners()) {
      // The credential the process before it holds: its port lets this CONNECT through (the control).
      const held = readFileSync(p.spec!.tokenFile, 'utf8').trim();
      const connect = `CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nProxy-Authorization: ${basic(held)}\r\n\r\n`;
      expect(await statusLine(p.port, connect), `${p.id} port`).to.match(/^HTTP\/1\.1 200/);
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ path: p.spec!.socket! }, () => resolve(s));
        s.once('error', reject);
      });
      const reply = collect(socket, 3000);
      socket.write(connect);
      const got = await reply;
      expect(got.closed, `${p.id} socket`).to.equal(true);
      expect(got.head, `${p.id} socket`).to.equal('');
    }
  });

  it('another user cannot connect to a socket', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: acting as another user needs root (CI runs as root)');
      return this.skip();
    }
    for (const p of socketListeners()) {
      const tried = spawnSync(
        process.execPath,
        [
          '-e',
          `require('net').connect(process.argv[1]).on('connect', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exit(2); })`,
          p.spec!.socket!,
        ],
        { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 },
      );
      expect(tried.status, p.id).to.equal(2);
      expect(tried.stdout.trim(), p.id).to.equal('EACCES');
    }
  });

  it("a base-URL path with the agent's token, and a trace claim with it, are refused 407", async () => {
    for (const p of moatListeners()) {
      const line = await statusLine(
        p.port,
        `GET /_moat/${agentToken}/https/api.anthropic.com/admin/users HTTP/1.1\r\nHost: ` +
          `127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      expect(line, `${p.id} base URL`).to.match(/^HTTP\/1\.1 407/);
    }
    const link = plan.processes.find((p) => p.role === 'link')!;
    const claim = await statusLine(
      link.port,
      `GET /_moat/claim?method=GET&host=api.anthropic.com&path=%2F HTTP/1.1\r\nHost: ` +
        `127.0.0.1\r\nProxy-Authorization: ${basic(agentToken)}\r\nConnection: close\r\n\r\n`,
    );
    expect(claim).to.match(/^HTTP\/1\.1 407/);
  });

  it('the credential a third-party hop holds opens the link after it and no other listener', async () => {
    const hop = plan.processes.find((p) => p.role === 'third-party')!;
    const conf = readFileSync(join(hop.cwd!, 'tinyproxy.conf'), 'utf8');
    const held = /Upstream http moat:([0-9a-f]{64})@/.exec(conf)![1];
    expect(held).to.not.equal(agentToken);
    const after = plan.processes[plan.processes.indexOf(hop) + 1];
    for (const p of moatListeners().filter((x) => x !== after)) {
      const line = await statusLine(
        p.port,
        `CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nProxy-Authorization: ` +
          `${basic(held)}\r\n\r\n`,
      );
      expect(line, p.id).to.match(/^HTTP\/1\.1 407/);
    }
    // The link after it takes it (that is what the hop's upstream setting is for).
    const own = await statusLine(
      after.port,
      `CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nProxy-Authorization: ` +
        `${basic(held)}\r\n\r\n`,
    );
    expect(own).to.match(/^HTTP\/1\.1 200/);
  });

  it('no attack reached the provider; each refusal is logged naming the listener; the ledger verifies', async () => {
    expect(adminRequests()).to.have.length(0);
    await new Promise((r) => setTimeout(r, 300)); // log lines leave in 20 ms batches
    const egress = plan.processes.find((p) => p.role === 'egress')!;
    const log = readFileSync(join(chain.layout.logDir, `${egress.id}.log`), 'utf8');
    expect(log).to.contain(`refused: egress, listener 127.0.0.1:${egress.port}`);
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });
});
