// The link client (hops/runtime/link-client.ts) writes the heads a Moat process sends the next one and reads their
// answers without Node's http client. Attacked here as text smuggled in a header, a path or a method (which would
// become a second request at the next process), and as a forged next process: an answer with two lengths, bytes past
// an answer's end, bytes sent on a connection no request waits on. Each must fail the request or close the
// connection, never be read as an answer to a later request.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type http from 'node:http';
import { LinkPool, type LinkRequest } from '../../hops/runtime/link-client';
import { LinkHeadError } from '../../hops/logic/link-head';
import { REPO_ROOT } from '../helpers/repo-root';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', name));

/** A next process that answers each request with what `answer(connection, request)` writes. */
interface FakeNext {
  port: number;
  connections: number;
  received: string[];
  close(): Promise<void>;
}

async function fakeNext(
  answer: (socket: tls.TLSSocket, connection: number, request: number) => void,
): Promise<FakeNext> {
  const state = { connections: 0, received: [] as string[] };
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ key: fixture('provider.key'), cert: fixture('provider.crt') }, (socket) => {
    const connection = ++state.connections;
    sockets.add(socket);
    let text = '';
    let requests = 0;
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      state.received.push(d.toString('latin1'));
      // Every request here has no body: one blank line ends each.
      while (text.includes('\r\n\r\n')) {
        text = text.slice(text.indexOf('\r\n\r\n') + 4);
        answer(socket, connection, ++requests);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    get connections() {
      return state.connections;
    },
    received: state.received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const context = () => tls.createSecureContext({ ca: fixture('provider-ca.crt') });

/** Sends one GET; resolves with every answer it was given (status and body) or the error it failed with. */
function exchange(
  pool: LinkPool,
): Promise<{ answers: { status: number; body: string }[]; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const answers: { status: number; body: string }[] = [];
    const req: LinkRequest = pool.request('GET', '/v1/models', { host: 'api.anthropic.com' });
    req.on('response', (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        answers.push({ status: res.statusCode!, body });
        // Wait a little: a second answer to the same request would arrive now.
        setTimeout(() => resolve({ answers }), 100);
      });
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ answers, error }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ answers, error }));
    req.end();
  });
}

const ok = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;

describe('link client: smuggling into and out of the link between Moat processes', function () {
  this.timeout(20_000);
  let next: FakeNext | undefined;
  let pool: LinkPool | undefined;
  afterEach(async () => {
    pool?.destroy();
    await next?.close();
    next = pool = undefined;
  });

  it('a header, path or method that would end the line early is refused before any connection is opened', async () => {
    next = await fakeNext((socket) => socket.write(ok('genuine')));
    pool = new LinkPool({
      host: '127.0.0.1',
      port: next.port,
      name: 'api.anthropic.com',
      secureContext: context(),
    });
    const smuggled = 'x\r\n\r\nGET /admin HTTP/1.1\r\nhost: internal';
    const attempts: [string, string, http.OutgoingHttpHeaders][] = [
      ['GET', '/v1/models', { host: 'api.anthropic.com', 'x-note': smuggled }],
      ['GET', '/v1/models', { host: 'api.anthropic.com', 'x-note': 'a\nb' }],
      ['GET', '/v1/models', { host: 'api.anthropic.com', 'x-note': 'a\u0000b' }],
      ['GET', '/v1/models', { host: 'api.anthropic.com', 'x-note': ['fine', smuggled] }],
      ['GET', '/v1/models', { host: 'api.anthropic.com', [`x-a: 1\r\nx-b`]: '2' }],
      ['GET', '/v1/models', { host: 'api.anthropic.com', 'x a': '2' }],
      ['GET', `/v1/models HTTP/1.1\r\nhost: x\r\n\r\nGET /admin`, { host: 'api.anthropic.com' }],
      ['GET', '/v1/models?q=a b', { host: 'api.anthropic.com' }],
      ['GET', '/\u0100', { host: 'api.anthropic.com' }],
      ['GET /admin HTTP/1.1\r\n', '/', { host: 'api.anthropic.com' }],
      ['POST', '/', { host: 'api.anthropic.com', 'content-length': '0\r\n\r\nGET /admin' }],
    ];
    for (const [method, path, headers] of attempts)
      expect(() => pool!.request(method, path, headers), JSON.stringify([method, path, headers])).to.throw(
        LinkHeadError,
      );
    // The same requests spelled cleanly go through, on a connection opened for them.
    expect((await exchange(pool)).answers).to.deep.equal([{ status: 200, body: 'genuine' }]);
    expect(next.received.join('')).not.to.contain('/admin');
    expect(next.connections).to.equal(1);
  });

  it('an answer with two lengths fails the request, and its connection carries nothing more', async () => {
    next = await fakeNext((socket, connection) =>
      socket.write(
        connection === 1 ? 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 50\r\n\r\nhello' : ok('genuine'),
      ),
    );
    pool = new LinkPool({
      host: '127.0.0.1',
      port: next.port,
      name: 'api.anthropic.com',
      secureContext: context(),
    });
    const first = await exchange(pool);
    expect(first.answers).to.deep.equal([]);
    expect(first.error?.code).to.equal('HPE_UNEXPECTED_CONTENT_LENGTH');
    expect((await exchange(pool)).answers).to.deep.equal([{ status: 200, body: 'genuine' }]);
    expect(next.connections).to.equal(2);
  });

  it('bytes past the end of an answer are not read as another answer', async () => {
    next = await fakeNext((socket, connection) =>
      socket.write(connection === 1 ? ok('ok') + ok('forged') : ok('genuine')),
    );
    pool = new LinkPool({
      host: '127.0.0.1',
      port: next.port,
      name: 'api.anthropic.com',
      secureContext: context(),
    });
    expect((await exchange(pool)).answers).to.deep.equal([{ status: 200, body: 'ok' }]);
    expect((await exchange(pool)).answers).to.deep.equal([{ status: 200, body: 'genuine' }]);
    expect(next.connections).to.equal(2);
  });

  it('bytes sent on a connection no request waits on close it: a later request never reads them', async () => {
    next = await fakeNext((socket, connection, request) => {
      if (connection > 1) return void socket.write(ok('genuine'));
      if (request > 1) return void socket.write('forged');
      socket.write(ok('first'));
      // While the connection is idle, the head of an answer nobody asked for; its body comes with the next request.
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n'), 50);
    });
    pool = new LinkPool({
      host: '127.0.0.1',
      port: next.port,
      name: 'api.anthropic.com',
      secureContext: context(),
    });
    expect((await exchange(pool)).answers).to.deep.equal([{ status: 200, body: 'first' }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await exchange(pool)).answers).to.deep.equal([{ status: 200, body: 'genuine' }]);
    expect(next.connections).to.equal(2);
  });
});
