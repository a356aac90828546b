// Regression (found by the resilience suite: after kill -9 of a link, a 200 whose response event at
// that link's boundary was never recorded): a forwarded response was reported done on the client
// side's 'finish', a turn of the event loop or more after its last bytes had been sent. It is now
// reported when the response has ended upstream, before the client side is ended; an answer of declared length
// (complete at the client with its last byte, before any end) before that byte is written; an error answer before
// any of it is.
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

  /** Forwards one request to `upstream` (or to a closed port), counting the body bytes handed to `res` by onDone. */
  const forwardOne = async (upstream: number, method = 'GET') => {
    const forwarder = new Forwarder({
      kind: 'internet',
      trustedCa: [],
      egress: { allow: ['*'], resolve: { 'upstream.test:80': `127.0.0.1:${upstream}` }, extraCa: [], timeoutMs: 5000 },
    });
    const seen: { status: number; bytesWritten: number; headersSent: boolean }[] = [];
    const front = await listen((req, res) => {
      let bytesWritten = 0;
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      res.write = ((chunk: Buffer) => {
        bytesWritten += chunk.length;
        return write(chunk);
      }) as typeof res.write;
      const end = res.end.bind(res) as (chunk?: Buffer | string) => http.ServerResponse;
      res.end = ((chunk?: Buffer | string) => {
        if (chunk !== undefined && typeof chunk !== 'function') bytesWritten += Buffer.byteLength(chunk);
        return end(chunk);
      }) as typeof res.end;
      forwarder.forward(
        req,
        res,
        { scheme: 'http', host: 'upstream.test', port: 80 },
        { onDone: (o) => seen.push({ status: o.status, bytesWritten, headersSent: res.headersSent }) },
      );
    });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: front, path: '/', method }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject)
        .end();
    });
    forwarder.close();
    return { answer, seen };
  };

  it('a body of declared length: onDone runs before its last byte is written to the client', async () => {
    const text = 'x'.repeat(100_000);
    const upstream = await listen((_req, res) => {
      res.writeHead(200, { 'content-length': text.length });
      // Two pieces, some time apart: the first is written on at once, the last only after onDone.
      res.write(text.slice(0, 40_000));
      setTimeout(() => res.end(text.slice(40_000)), 50);
    });
    const { answer, seen } = await forwardOne(upstream);
    expect(answer).to.deep.equal({ status: 200, body: text });
    expect(seen).to.have.length(1);
    expect(seen[0].status).to.equal(200);
    expect(seen[0].bytesWritten, 'body bytes written when onDone ran').to.be.at.least(40_000).and.below(text.length);
  });

  it('answers of declared length with no body (HEAD, content-length: 0) are done once, at their end', async () => {
    const upstream = await listen((req, res) => {
      res.writeHead(200, { 'content-length': req.method === 'HEAD' ? 5 : 0 });
      res.end();
    });
    for (const method of ['HEAD', 'GET']) {
      const { answer, seen } = await forwardOne(upstream, method);
      expect(answer, method).to.deep.equal({ status: 200, body: '' });
      expect(seen, method).to.deep.equal([{ status: 200, bytesWritten: 0, headersSent: true }]);
    }
  });

  it('an error answer: onDone runs before any of it is written', async () => {
    const closed = await listen(() => undefined);
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const { answer, seen } = await forwardOne(closed);
    expect(answer.status).to.equal(502);
    expect(seen).to.deep.equal([{ status: 502, bytesWritten: 0, headersSent: false }]);
  });
});
