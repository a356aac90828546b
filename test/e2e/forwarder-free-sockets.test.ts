// Regression: Node's Agent under `scheduling: 'lifo'` (every pool of the forwarder) handed a request the newest free
// socket even when its idle timer had just destroyed it (it leaves the free list only at its 'close', a turn later),
// and the request failed 502 as a reset nobody caused. hops/runtime/live-free-sockets.ts takes such sockets off first.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../hops/runtime/forwarder';

describe('forwarder: a free socket its idle timer destroyed is never handed to a request', () => {
  let upstream: http.Server;
  let front: http.Server;
  let forwarder: Forwarder;
  /** Runs once, in the same turn as the next request is forwarded. */
  let beforeForward: (() => void) | undefined;

  const listen = (server: http.Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );

  before(async () => {
    // Slow enough that two requests at once take two connections.
    upstream = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 30));
    const port = await listen(upstream);
    forwarder = new Forwarder({
      kind: 'internet',
      trustedCa: [],
      egress: {
        allow: ['upstream.test'],
        resolve: { 'upstream.test:80': `127.0.0.1:${port}` },
        extraCa: [],
        timeoutMs: 5000,
      },
    });
    front = http.createServer((req, res) => {
      beforeForward?.();
      beforeForward = undefined;
      forwarder.forward(req, res, { scheme: 'http', host: 'upstream.test', port: 80 }, { onDone: () => undefined });
    });
    await listen(front);
  });

  after(async () => {
    client.destroy();
    forwarder.close();
    front.closeAllConnections();
    upstream.closeAllConnections();
    await Promise.all([front, upstream].map((s) => new Promise((resolve) => s.close(resolve))));
  });

  // Kept alive, as the link client in front of a Moat process keeps its connections (a client's `Connection: close`
  // would close the forwarder's connection too).
  const client = new http.Agent({ keepAlive: true });
  const get = () =>
    new Promise<number>((resolve, reject) => {
      const port = (front.address() as AddressInfo).port;
      http
        .get({ host: '127.0.0.1', port, path: '/', agent: client }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });

  it('the next request gets a 200, on a live connection', async () => {
    expect(await Promise.all([get(), get()])).to.deep.equal([200, 200]);
    const agent = (forwarder as unknown as { httpAgent: http.Agent }).httpAgent;
    const free = Object.values(agent.freeSockets)[0]!;
    expect(free).to.have.length(2);
    // What the Agent does when a free socket has idled its time (destroyed at once, off the list at its 'close', a
    // turn later), here in the same turn as a request is forwarded, as a timer and a request can fall.
    beforeForward = () => free[free.length - 1].emit('timeout');
    expect(await get()).to.equal(200);
  });
});
