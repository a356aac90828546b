// A next process that dies while the forwarder holds a kept-alive connection to it: the request already sent on that
// connection comes back reset ("broke the connection"). Asked again, a dead process refuses a new connection, and the
// agent is told the hop is unavailable; a process that only cut the connection still accepts, and the failure stands.
// CI saw the race this closes: tinyproxy SIGKILLed just before a request gave hop_failed instead of hop_unavailable.
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../hops/runtime/forwarder';

/** A plain forward proxy for one connection's life: answers the first request, resets the connection on the second. */
function cuttingProxy(): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let requests = 0;
    socket.on('data', () => {
      requests += 1;
      if (requests === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      else socket.resetAndDestroy();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, sockets })),
  );
}

describe('forwarder: a next process that dies under a kept-alive connection', () => {
  let front: http.Server;
  let next: Awaited<ReturnType<typeof cuttingProxy>>;

  const ask = (port: number): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/v1/models', agent: false }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        })
        .on('error', reject);
    });

  beforeEach(async () => {
    next = await cuttingProxy();
    const forwarder = new Forwarder({
      kind: 'next',
      next: { port: next.port, hop: 2, name: 'tinyproxy' },
      proxyAuthorization: '',
      trustedCa: [],
    });
    front = http.createServer((req, res) =>
      forwarder.forward(req, res, { scheme: 'http', host: 'api.example.test', port: 80 }, { onDone: () => undefined }),
    );
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  });

  afterEach(() => {
    front.close();
    front.closeAllConnections();
    next.server.close();
    for (const s of next.sockets) s.destroy();
  });

  const frontPort = () => (front.address() as AddressInfo).port;

  it('names the hop unavailable when it no longer accepts connections', async () => {
    expect((await ask(frontPort())).body).to.equal('ok');
    expect(next.sockets.size, 'the connection is kept alive').to.equal(1);
    // The process "dies": its listener is gone; the kept connection resets on the next request sent on it.
    await new Promise<void>((r) => next.server.close(() => r()) && setImmediate(r));
    const res = await ask(frontPort());
    expect(res.status).to.equal(502);
    const body = JSON.parse(res.body);
    expect(body).to.deep.include({ error: 'hop_unavailable', hop: 2, hop_name: 'tinyproxy' });
    expect(body.message).to.contain('hop 2 (tinyproxy) is not accepting connections');
  });

  it('keeps hop_failed when the hop cut the connection but still accepts new ones', async () => {
    expect((await ask(frontPort())).body).to.equal('ok');
    const res = await ask(frontPort());
    expect(res.status).to.equal(502);
    const body = JSON.parse(res.body);
    expect(body).to.deep.include({ error: 'hop_failed', hop: 2, hop_name: 'tinyproxy' });
    expect(body.message).to.contain('broke the connection');
  });
});
