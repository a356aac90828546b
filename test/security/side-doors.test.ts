// The agent tries every door of a running chain but the front one (security invariant 2). It holds what
// `moat chain env` gives it (ingress's token) and can find every port (status, a scan of 127.0.0.1). Each
// Moat listener but ingress takes only the credential of the process before it, by every entrance it has:
// CONNECT, absolute-form http://, link TLS, a base-URL path, a trace claim. A third-party hop's credential
// (readable in its own config file) opens the link after it and nothing else.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { request } from 'undici';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { collect, rawExchange } from '../helpers/raw-client';
import type { Plan, PlannedProcess } from '../../supervisor/chain/plan';
import { linkSocketAddress } from '../../hops/runtime/link-socket';
import { SOCKET_PROBE } from '../helpers/socket-probe';
import { cmdlineOf, processTree } from '../helpers/process-tree';

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

  // A Moat process after a Moat process also takes link TLS on an abstract Unix socket (hops/runtime/link-socket.ts).
  const socketListeners = () => moatListeners().filter((p) => p.spec!.socket);
  const socketAt = (p: PlannedProcess) => linkSocketAddress(p.spec!.socket!);

  it('each Moat process after a Moat process has an abstract socket of its own, which the chain uses', async () => {
    // 3-moat-policy comes after tinyproxy, which speaks TCP only; ingress is the agent's door.
    expect(socketListeners().map((p) => p.id)).to.deep.equal(['1-moat-telemetry', '2-link', '4-egress']);
    const agent = await chain.agent();
    const res = await request('https://api.anthropic.com/v1/models', { dispatcher: agent });
    await res.body.text();
    expect(res.statusCode).to.equal(200);
    // /proc/net/unix shows an abstract name as @name (Node pads it with NULs, shown as @ too); state 03 is a
    // connection accepted there, kept alive in the pool of the process before it.
    const table = readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length === 8)
      .map((f) => ({ state: f[5], name: f[7].replace(/@+$/, '') }));
    for (const p of socketListeners()) {
      const accepted = table.filter((e) => e.name === `@${p.spec!.socket}` && e.state === '03');
      expect(accepted.length, `connections on @${p.spec!.socket} (${p.id})`).to.be.greaterThan(0);
    }
    await agent.close();
  });

  it("over each socket, link TLS with the agent's token, or none, is refused 407", async () => {
    for (const p of socketListeners()) {
      for (const auth of [`Proxy-Authorization: ${basic(agentToken)}\r\n`, '']) {
        const line = await overLinkTls(
          socketAt(p),
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
        const s = net.connect({ path: socketAt(p) }, () => resolve(s));
        s.once('error', reject);
      });
      const reply = collect(socket, 3000);
      socket.write(connect);
      const got = await reply;
      expect(got.closed, `${p.id} socket`).to.equal(true);
      expect(got.head, `${p.id} socket`).to.equal('');
    }
  });

  it("from the isolated hop's namespace no socket answers, so the egress credential it can read is of no use", async () => {
    // The hop's user may read egress's credential (same user, same files); over TCP it cannot reach egress's port.
    // Abstract sockets belong to a network namespace, so a socket must be out of its reach too, or it could send
    // straight to egress and get around moat-policy.
    const rows = await chain.status();
    const hopRow = rows.find((r) => r.role === 'third-party')!;
    const helper = processTree(hopRow.pid as number).find((pid) => cmdlineOf(pid).includes('netns-main.js'));
    expect(helper, 'the namespace helper of the isolated hop').to.be.a('number');
    const egress = plan.processes.find((p) => p.role === 'egress')!;
    const names = socketListeners().map((p) => p.spec!.socket!);
    const probe = (prefix: string[]) =>
      new Promise<Record<string, string>>((resolve, reject) =>
        execFile(
          prefix[0] ?? process.execPath,
          [
            ...prefix.slice(1),
            ...(prefix.length ? [process.execPath] : []),
            '-e',
            SOCKET_PROBE,
            JSON.stringify({ names, port: egress.port }),
          ],
          { timeout: 20_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
        ),
      );
    const inside = await probe(['nsenter', '-t', String(helper), '-U', '-n', '--preserve-credentials']);
    const outside = await probe([]);
    for (const name of names) {
      expect(outside[name], `@${name} from this machine`).to.equal('connected');
      expect(inside[name], `@${name} from the hop's namespace`).to.equal('ECONNREFUSED');
    }
    expect(inside.port, "egress's port from the hop's namespace").to.equal('ECONNREFUSED');
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
