// Link TLS, the listener's TLS from the first byte that the Moat process before it sends its requests on, is read by
// Node's http.Server (issue 22 tried a reader of our own and did not keep it: docs/benchmarks.md, "Issue 22, session
// 23"). The agent runs as the user and can open TLS to any Moat listener, so what it sends there must be read
// strictly: nothing it smuggles, pipelines, trickles or inflates is sent on. Ingress reads the agent's own requests
// inside its CONNECT tunnels with the same server options (last part).
import { expect } from 'chai';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { LinkServer } from '../../hops/runtime/link-server';
import type { LeafCache } from '../../hops/tls/leaf-cache';
import { startTestIngressBefore } from '../helpers/test-ingress';
import { tmpDir } from '../helpers/tmp';
import { openTlsTunnel } from '../helpers/raw-client';

const HEADERS_TIMEOUT_MS = 600;

/** What came back on `socket` until it closed (or `waitMs` passed), and when it closed, ms after the call. */
function collect(socket: tls.TLSSocket, waitMs: number): Promise<{ text: string; closedAt?: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve({ text }), waitMs);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAt: performance.now() - t0 });
    });
  });
}

/**
 * Whether the listener still holds its side of the connection from `clientPort`: /proc/net/tcp lists a socket no
 * process holds any more (orphaned, closing) with inode 0.
 */
function listenerHolds(serverPort: number, clientPort: number): boolean {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .some((f) => f[1]?.endsWith(`:${hex(serverPort)}`) && f[2]?.endsWith(`:${hex(clientPort)}`) && f[9] !== '0');
}

/** Every status line in `text` (an answer's body may end without a line break). */
const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3} [^\r\n]*/g) ?? [];

describe('link TLS: what an agent sends to a listener directly', function () {
  this.timeout(20_000);
  const dir = tmpDir('moat-ltr-');
  let server: LinkServer;
  let auth = '';
  let ca = '';
  /** The paths the next hop was sent, and each request's header names. */
  const forwarded: string[] = [];
  const headerNames: string[][] = [];
  const next = http.createServer((req, res) => {
    forwarded.push(new URL(req.url ?? '/', 'http://x').pathname);
    headerNames.push(Object.keys(req.headers));
    // A slow reader for the large body: it backs up to the listener, whose socket pauses.
    if (req.url?.endsWith('/big-body'))
      req.on('data', () => {
        req.pause();
        setTimeout(() => req.resume(), 2);
      });
    req.resume();
    req.on('end', () => res.end('ok'));
  });

  before(async () => {
    let leaves: LeafCache;
    ({ server, auth, ca, leaves } = await startTestIngressBefore(next, dir.path, {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
    }));
    // Requests from ingress's tunnels reach the next hop through a CONNECT of its own: served there over TLS, as a
    // Moat process after a third-party hop serves them.
    next.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) socket.unshift(head);
      const host = (req.url ?? '').replace(/:\d+$/, '');
      next.emit('connection', new tls.TLSSocket(socket, { isServer: true, secureContext: leaves.contextFor(host) }));
    });
  });

  beforeEach(() => {
    forwarded.splice(0);
    headerNames.splice(0);
  });

  after(async () => {
    await server.close();
    next.closeAllConnections();
    await new Promise((resolve) => next.close(resolve));
    dir.remove();
  });

  /** A TLS connection to the listener itself, as the Moat process before it opens one. */
  function linkTls(allowHalfOpen = false): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const options = { host: '127.0.0.1', port: server.port, servername: 'moat-link.invalid', ca, allowHalfOpen };
      const s = tls.connect(options, () => resolve(s));
      s.once('error', reject);
    });
  }

  const get = (path: string, credential = true) =>
    `GET http://example.test${path} HTTP/1.1\r\nHost: example.test\r\n` +
    (credential ? `Proxy-Authorization: ${auth}\r\n` : '') +
    '\r\n';

  it('the credential is asked for on link TLS as on every path, and a served request on it is sent on', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 1500);
    socket.write(get('/no-credential', false));
    await new Promise((r) => setTimeout(r, 200));
    socket.write(get('/with-credential'));
    const { text } = await reply;
    socket.destroy();
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 407 Proxy Authentication Required', 'HTTP/1.1 200 OK']);
    expect(forwarded).to.deep.equal(['/with-credential']);
  });

  it('requests sent back to back are answered in order, each sent on once', async () => {
    const socket = await linkTls();
    const served = collect(socket, 1500);
    socket.write(get('/one') + get('/two') + get('/three'));
    const { text } = await served;
    socket.destroy();
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    expect(forwarded).to.deep.equal(['/one', '/two', '/three']);
  });

  it('Content-Length with Transfer-Encoding is refused 400; neither the request nor what it hides is sent on', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 3000);
    const smuggled = get('/smuggled');
    socket.write(
      `POST http://example.test/outer HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ${auth}\r\n` +
        `Content-Length: ${smuggled.length + 5}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    );
    const { text, closedAt } = await reply;
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 400 Bad Request']);
    expect(closedAt).to.not.equal(undefined);
    expect(forwarded).to.deep.equal([]);
  });

  it('the body of a refused request is read as a body, never as a request of its own', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 1500);
    const inner = get('/inner');
    socket.write(
      `POST http://example.test/outer HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`,
    );
    const { text } = await reply;
    socket.destroy();
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 407 Proxy Authentication Required']);
    expect(forwarded).to.deep.equal([]);
  });

  it('a head trickled a line at a time is cut at the headers timeout (408), and nothing is sent on', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 5000);
    socket.write('GET http://example.test/slow HTTP/1.1\r\n');
    const timer = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 150);
    const { text, closedAt } = await reply;
    clearInterval(timer);
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 408 Request Timeout']);
    expect(closedAt).to.be.within(HEADERS_TIMEOUT_MS - 100, HEADERS_TIMEOUT_MS + 1500);
    expect(forwarded).to.deep.equal([]);
  });

  it('a kept-alive connection idle past the headers timeout is kept; one that starts a head and stops is cut', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 5000);
    socket.write(get('/served'));
    // Idle, as a link client's pooled connection is, for longer than a head may take: still open, and still served.
    await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS * 2));
    socket.write(get('/after-idle'));
    await new Promise((r) => setTimeout(r, 200));
    socket.write('GET http://example.test/stalled HTTP/1.1\r\nHost: exa');
    const { text, closedAt } = await reply;
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 408 Request Timeout']);
    expect(closedAt).to.not.equal(undefined);
    expect(forwarded).to.deep.equal(['/served', '/after-idle']);
  });

  it('a head past the 16 KB limit is answered 431 and nothing is sent on', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 3000);
    socket.write(
      `GET http://example.test/big HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ${auth}\r\n` +
        `X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    const { text } = await reply;
    socket.destroy();
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 431 Request Header Fields Too Large']);
    expect(forwarded).to.deep.equal([]);
  });

  it('an expectation other than 100-continue is answered 417, and nothing is sent on', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 1500);
    socket.write(
      `POST http://example.test/expect HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ${auth}\r\n` +
        'Expect: something-else\r\nContent-Length: 2\r\n\r\nhi',
    );
    const { text } = await reply;
    socket.destroy();
    expect(statusLines(text)[0]).to.equal('HTTP/1.1 417 Expectation Failed');
    expect(forwarded).to.deep.equal([]);
  });

  it('an answer that closes the connection (the request said Connection: close) does not leave it half-open', async () => {
    // A client that keeps its side open after the listener's end: the listener lets go of its own soon after.
    const socket = await linkTls(true);
    const reply = collect(socket, 1000);
    socket.write('GET http://example.test/bye HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
    const { text } = await reply;
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 407 Proxy Authentication Required']);
    const deadline = performance.now() + 4000;
    while (listenerHolds(server.port, socket.localPort!) && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(listenerHolds(server.port, socket.localPort!), 'the listener still holds the connection').to.equal(false);
    socket.destroy();
  });

  it('a head started right behind an answered request and trickled is cut at the headers timeout', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 6000);
    socket.write(get('/first', false) + 'GET http://example.test/');
    const timer = setInterval(() => socket.writable && socket.write('a'), 150);
    const { text, closedAt } = await reply;
    clearInterval(timer);
    expect(statusLines(text)).to.deep.equal([
      'HTTP/1.1 407 Proxy Authentication Required',
      'HTTP/1.1 408 Request Timeout',
    ]);
    expect(closedAt).to.be.below(HEADERS_TIMEOUT_MS + 2000);
    expect(forwarded).to.deep.equal([]);
  });

  it('a request with 40 header fields (llhttp hands them over in parts) keeps its target', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 1500);
    const many = Array.from({ length: 40 }, (_, i) => `X-Field-${i}: ${i}\r\n`).join('');
    socket.write(
      `GET http://example.test/many-headers HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ${auth}\r\n${many}\r\n`,
    );
    const { text } = await reply;
    socket.destroy();
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 200 OK']);
    expect(forwarded).to.deep.equal(['/many-headers']);
    expect(headerNames[0]).to.include('x-field-39');
  });

  it("a chunked request's trailers are dropped, never read into the next request's head", async () => {
    const socket = await linkTls();
    const reply = collect(socket, 1500);
    socket.write(
      `POST http://example.test/chunked HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ${auth}\r\n` +
        'Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Trailer-Smuggled: 1\r\n\r\n',
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.write(get('/after-trailers'));
    const { text } = await reply;
    socket.destroy();
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    expect(forwarded).to.deep.equal(['/chunked', '/after-trailers']);
    expect(headerNames.flat()).to.not.include('x-trailer-smuggled');
  });

  it('a client that sends each request as soon as the last answer has arrived (as the link client does) is served every time', async () => {
    const socket = await linkTls();
    let text = '';
    let sent = 0;
    const answers = () => statusLines(text).length;
    const done = new Promise<void>((resolve) => {
      // The next request goes out in the same turn as the last answer's end arrives.
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (answers() !== sent || !text.endsWith('ok')) return;
        if (sent === 200) return resolve();
        socket.write(get(`/in-turn-${sent++}`));
      });
      socket.once('close', () => resolve());
    });
    socket.write(get(`/in-turn-${sent++}`));
    await done;
    socket.destroy();
    expect(answers()).to.equal(200);
    expect(forwarded).to.have.length(200);
  });

  it('a request after one whose large body filled its reader is read too (the connection is not left paused)', async () => {
    const socket = await linkTls();
    const reply = collect(socket, 4000);
    const body = 'x'.repeat(1_000_000);
    socket.write(
      `POST http://example.test/big-body HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: ${auth}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    const first = Date.now();
    while (!forwarded.includes('/big-body') && Date.now() - first < 3000) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    socket.write(get('/after-big-body'));
    const { text } = await reply;
    socket.destroy();
    expect(statusLines(text)).to.deep.equal(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    expect(forwarded).to.deep.equal(['/big-body', '/after-big-body']);
  });

  describe("inside a CONNECT tunnel to ingress (the agent's own requests, read the same way)", () => {
    const tunnel = () => openTlsTunnel(server.port, auth, ca);
    const inTunnel = (path: string) => `GET ${path} HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n`;

    it('requests sent back to back are answered in order, each sent on once', async () => {
      const socket = await tunnel();
      const served = collect(socket, 1500);
      socket.write(inTunnel('/t-one') + inTunnel('/t-two') + inTunnel('/t-three'));
      const { text } = await served;
      socket.destroy();
      expect(statusLines(text)).to.deep.equal(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
      expect(forwarded).to.deep.equal(['/t-one', '/t-two', '/t-three']);
    });

    it('Content-Length with Transfer-Encoding is refused 400 and the tunnel closed; nothing is sent on', async () => {
      const socket = await tunnel();
      const reply = collect(socket, 3000);
      const smuggled = inTunnel('/t-smuggled');
      socket.write(
        'POST /t-outer HTTP/1.1\r\nHost: api.anthropic.com\r\n' +
          `Content-Length: ${smuggled.length + 5}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      );
      const { text, closedAt } = await reply;
      expect(statusLines(text)).to.deep.equal(['HTTP/1.1 400 Bad Request']);
      expect(closedAt).to.not.equal(undefined);
      expect(forwarded).to.deep.equal([]);
    });

    it('a body that cannot be read (a chunk size not in hex) is answered 400 and the tunnel closed', async () => {
      const socket = await tunnel();
      const reply = collect(socket, 3000);
      socket.write(
        'POST /t-bad-chunk HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' +
          inTunnel('/t-after-bad-chunk'),
      );
      const { text, closedAt } = await reply;
      expect(statusLines(text)).to.deep.equal(['HTTP/1.1 400 Bad Request']);
      expect(closedAt).to.not.equal(undefined);
      expect(forwarded).to.not.include('/t-after-bad-chunk');
    });

    it('an HTTP/1.1 request without Host is refused 400; a CONNECT inside the tunnel closes it; neither is sent on', async () => {
      const hostless = await tunnel();
      const refused = collect(hostless, 3000);
      hostless.write('GET /t-no-host HTTP/1.1\r\n\r\n');
      expect(statusLines((await refused).text)).to.deep.equal(['HTTP/1.1 400 Bad Request']);
      hostless.destroy();
      const nested = await tunnel();
      const closed = collect(nested, 3000);
      nested.write('CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n');
      const { text, closedAt } = await closed;
      expect(statusLines(text)).to.deep.equal([]);
      expect(closedAt).to.not.equal(undefined);
      expect(forwarded).to.deep.equal([]);
    });

    it('a head past the 16 KB limit is answered 431, and nothing is sent on', async () => {
      const socket = await tunnel();
      const refused = collect(socket, 3000);
      socket.write(`GET /t-big HTTP/1.1\r\nHost: api.anthropic.com\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(statusLines((await refused).text)).to.deep.equal(['HTTP/1.1 431 Request Header Fields Too Large']);
      socket.destroy();
      expect(forwarded).to.deep.equal([]);
    });
  });
});
