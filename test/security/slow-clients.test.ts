// Slow clients cannot hold the chain's descriptors: a client that sends a request's headers and then one body byte
// every 3 s used to keep its connection (and one in every process after ingress) for as long as it liked. Now the
// body must arrive within 20 s (plus 1 s per 500 bytes received): 100 such clients at ingress, inside CONNECT
// tunnels, are all answered 408 body_timeout and closed, ingress's connections return to what they were, and a
// normal request meanwhile is served.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';
import { openTlsTunnel } from '../helpers/raw-client';

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

/** A POST whose headers promise 1000 bytes, then one byte every 3 s. */
async function slowClient(port: number, auth: string, ca: string, n: number): Promise<SlowClient> {
  const socket = await openTlsTunnel(port, auth, ca);
  const t0 = performance.now();
  socket.write(`POST /v1/messages?slow=${n} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
  const timer = setInterval(() => !socket.destroyed && socket.write(' '), 3000);
  const reply = new Promise<{ text: string; closedAt: number }>((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ text, closedAt: performance.now() - t0 });
    });
  });
  return { socket, reply };
}

describe('slow clients: request bodies that stop arriving are answered 408 body_timeout and closed', function () {
  this.timeout(90_000);
  let provider: FakeProvider;
  const chain = new CliChain();

  before(async () => {
    provider = await new FakeProvider().start();
    chain.writeConfig(`proxies: [moat-policy]
${egressTo(provider.port)}
`);
    await chain.up();
  });

  after(async () => {
    await chain.cleanup();
    await provider.stop();
  });

  it(`${CLIENTS} clients trickling a body inside CONNECT tunnels: each gets 408 after ~20 s, ingress's connections return to baseline, others are served`, async () => {
    const ingress = (await chain.status()).find((r) => r.name === 'ingress');
    const auth = `Basic ${Buffer.from(`moat:${readFileSync(chain.layout.tokenFile, 'utf8').trim()}`).toString('base64')}`;
    const ca = readFileSync(chain.layout.caCertFile, 'utf8');
    const baseline = establishedOn(ingress.port);

    const clients: SlowClient[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await slowClient(ingress.port, auth, ca, i));
    await sleep(3000);
    expect(establishedOn(ingress.port), 'the slow clients are connected').to.be.at.least(baseline + CLIENTS);

    // Meanwhile a normal request is served.
    const agent = await chain.agent();
    const normal = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', { method: 'POST', body: '{"model":"claude-fake-1","messages":[]}', headers: { 'content-type': 'application/json' } });
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
  });
});
