// Slow clients cannot hold the chain's descriptors: a client that sends a request's headers and then one body byte
// every 3 s used to keep its connection (and one in every process after ingress) for as long as it liked. Now the
// body must arrive within 20 s (plus 1 s per 500 bytes received): 100 such clients at ingress, inside CONNECT
// tunnels, are all answered 408 body_timeout and closed, ingress's connections return to what they were, and a
// normal request meanwhile is served.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { connectPlain, openTlsTunnel } from '../helpers/raw-client';
import http from 'node:http';
import net from 'node:net';
import type { LinkServer } from '../../hops/runtime/link-server';
import { basicAuth, startTestIngressBefore } from '../helpers/test-ingress';
import { tmpDir } from '../helpers/tmp';

const CLIENTS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Established TCP connections whose local port is `port` (the server's side of each client connection). */
function establishedOn(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(`:${hex}`) && f[3] === '01';
    }).length;
}

interface SlowClient {
  socket: tls.TLSSocket;
  /** What came back (status line and body), and when the connection closed, ms after the headers were sent. */
  reply: Promise<{ text: string; closedAt: number }>;
}

/**
 * Writes `head`, then `chunk` every `everyMs` until the connection closes; resolves with what came back and when it
 * closed.
 */
function trickle(
  socket: net.Socket,
  head: string,
  chunk: string,
  everyMs: number,
  maxChunks = Infinity,
): Promise<{ text: string; closedAt: number }> {
  const t0 = performance.now();
  socket.write(head);
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || sent >= maxChunks) return clearInterval(timer);
    sent++;
    socket.write(chunk);
  }, everyMs);
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ text, closedAt: performance.now() - t0 });
    });
  });
}

/** A POST whose headers promise 1000 bytes, then one byte every 3 s. */
async function slowClient(port: number, auth: string, ca: string, n: number): Promise<SlowClient> {
  const socket = await openTlsTunnel(port, auth, ca);
  const reply = trickle(
    socket,
    `POST /v1/messages?slow=${n} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: ` +
      `application/json\r\nContent-Length: 1000\r\n\r\n{`,
    ' ',
    3000,
  );
  return { socket, reply };
}

describe('slow clients: request bodies that stop arriving are answered 408 body_timeout and closed', function () {
  this.timeout(90_000);
  const { chain, provider } = chainFixture({
    config: (provider) => `proxies: [moat-policy]\n${egressTo(provider.port)}\n`,
  });

  it(
    `${CLIENTS} clients trickling a body inside CONNECT tunnels: each gets 408 after ~20 s, ingress's ` +
      `connections return to baseline, others are served`,
    async () => {
      const ingress = (await chain.status()).find((r) => r.name === 'ingress');
      const auth = basicAuth(readFileSync(chain.layout.tokenFile, 'utf8').trim());
      const ca = readFileSync(chain.layout.caCertFile, 'utf8');
      const baseline = establishedOn(ingress.port);

      const clients: SlowClient[] = [];
      for (let i = 0; i < CLIENTS; i++) clients.push(await slowClient(ingress.port, auth, ca, i));
      await sleep(3000);
      expect(establishedOn(ingress.port), 'the slow clients are connected').to.be.at.least(baseline + CLIENTS);

      // Meanwhile a normal request is served.
      const agent = await chain.agent();
      const normal = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
        method: 'POST',
        body: '{"model":"claude-fake-1","messages":[]}',
        headers: { 'content-type': 'application/json' },
      });
      expect(normal.status, normal.body).to.equal(200);
      await agent.close();

      // Each is answered 408 body_timeout and closed, about 20 s after its headers (never left open for long).
      const replies = await Promise.race([
        Promise.all(clients.map((c) => c.reply)),
        sleep(40_000).then(() => {
          throw new Error('slow clients still connected 40 s after their headers');
        }),
      ]);
      for (const r of replies) {
        expect(r.text.split('\r\n')[0]).to.equal('HTTP/1.1 408 Request Timeout');
        expect(r.text).to.contain('"error":"body_timeout"');
        expect(r.closedAt).to.be.within(19_000, 30_000);
      }
      // Ingress's side of those connections is gone too (not left in CLOSE_WAIT or ESTABLISHED).
      for (let i = 0; i < 30 && establishedOn(ingress.port) > baseline; i++) await sleep(100);
      expect(establishedOn(ingress.port)).to.be.at.most(baseline);
      // None of them reached the provider.
      expect(provider.seen.filter((r) => r.path.includes('slow='))).to.deep.equal([]);
    },
  );
});

describe('slow clients: ingress.body_timeout_s sets the deadline at every Moat process', function () {
  this.timeout(60_000);
  const { chain } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry]\ningress:\n  body_timeout_s: 2\n${egressTo(provider.port)}\n`,
  });

  it('body_timeout_s: 2: a trickled body gets 408 after about 2 s', async () => {
    const ingress = (await chain.status()).find((r) => r.name === 'ingress');
    const auth = basicAuth(readFileSync(chain.layout.tokenFile, 'utf8').trim());
    const client = await slowClient(ingress.port, auth, readFileSync(chain.layout.caCertFile, 'utf8'), 0);
    const r = await client.reply;
    expect(r.text.split('\r\n')[0]).to.equal('HTTP/1.1 408 Request Timeout');
    expect(r.text).to.contain('did not arrive in time (2 s');
    expect(r.closedAt).to.be.within(1500, 5000);
  });
});

describe('slow clients in one process: the body deadline on every path (short settings)', function () {
  this.timeout(20_000);
  const dir = tmpDir('moat-sc-');
  const BODY = { baseMs: 600, minRateBytesPerS: 100 };
  let server: LinkServer;
  let auth = '';
  let ca = '';
  // The next hop: reads the whole body, then answers with its size.
  const next = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => res.end(JSON.stringify({ size })));
  });

  before(async () => {
    ({ server, auth, ca } = await startTestIngressBefore(next, dir.path, { bodyTimeout: BODY }));
  });

  after(async () => {
    await server.close();
    next.close();
    dir.remove();
  });

  /** `head`, then an 'x' every `everyMs`: answered with `status`, and closed at the deadline (0.6 s base). */
  async function cutAtDeadline(socket: net.Socket, head: string, everyMs: number, status: string) {
    const r = await trickle(socket, head, 'x', everyMs);
    expect(r.text.split('\r\n')[0]).to.equal(status);
    expect(r.closedAt).to.be.within(500, 2000);
    return r;
  }

  it('in the open: 408 body_timeout after the deadline, then closed', async () => {
    const r = await cutAtDeadline(
      await connectPlain(server.port),
      `POST http://example.test/up HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ` +
        `${auth}\r\nContent-Length: 100\r\n\r\nx`,
      300,
      'HTTP/1.1 408 Request Timeout',
    );
    expect(r.text).to.contain('"error":"body_timeout"');
    expect(r.text.toLowerCase()).to.contain('connection: close');
  });

  it('inside a TLS tunnel: the same', async () => {
    await cutAtDeadline(
      await openTlsTunnel(server.port, auth, ca),
      'POST /up HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 100\r\n\r\nx',
      300,
      'HTTP/1.1 408 Request Timeout',
    );
  });

  it('answered before its body (407 without the token): the connection is still closed at the deadline', async () => {
    await cutAtDeadline(
      await connectPlain(server.port),
      'POST http://example.test/up HTTP/1.1\r\nHost: example.test\r\nContent-Length: 100000\r\n\r\nx',
      200,
      'HTTP/1.1 407 Proxy Authentication Required',
    );
  });

  it('a body at more than the minimum rate is never cut, however long it takes', async () => {
    const socket = await connectPlain(server.port);
    // 40 bytes every 100 ms = 400 B/s for 1.5 s: past the 0.6 s base, each 100 bytes adding a second.
    const r = trickle(
      socket,
      `POST http://example.test/up HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ` +
        `${auth}\r\nContent-Length: 600\r\nConnection: close\r\n\r\n`,
      'y'.repeat(40),
      100,
      15,
    );
    const { text } = await r;
    expect(text.split('\r\n')[0]).to.equal('HTTP/1.1 200 OK');
    expect(text).to.contain('{"size":600}');
  });
});
