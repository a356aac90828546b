// Regression (found by the resilience suite: after kill -9 of a link, a 200 whose response event at
// that link's boundary was never recorded): a forwarded response was reported done on the client
// side's 'finish', a turn of the event loop or more after its last bytes had been sent. It is now
// reported when the response has ended upstream, before the client side is ended.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../hops/runtime/forwarder';

describe('forwarder: a response is done before its last bytes leave', () => {
  const servers: http.Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  const listen = (handler: http.RequestListener) =>
    new Promise<number>((resolve) => {
      const server = http.createServer(handler);
      servers.push(server);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });

  it('onDone runs before the response to the client is ended', async () => {
    const upstream = await listen((_req, res) => res.end('{"ok":true}'));
    const forwarder = new Forwarder({
      kind: 'internet',
      trustedCa: [],
      egress: { allow: ['*'], resolve: { 'upstream.test:80': `127.0.0.1:${upstream}` }, extraCa: [], timeoutMs: 5000 },
    });
    const seen: { status: number; endedAlready: boolean }[] = [];
    const front = await listen((req, res) => {
      forwarder.forward(
        req,
        res,
        { scheme: 'http', host: 'upstream.test', port: 80 },
        { onDone: (o) => seen.push({ status: o.status, endedAlready: res.writableEnded }) },
      );
    });
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: front, path: '/' }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    forwarder.close();
    expect(body).to.equal('{"ok":true}');
    expect(seen).to.deep.equal([{ status: 200, endedAlready: false }]);
  });
});
