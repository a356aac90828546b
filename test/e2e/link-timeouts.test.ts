// Regressions found by the resilience suite (malformed input to ingress), on one link server with a
// short headers timeout: inside CONNECT tunnels no headers timeout applied at all (a slowloris client
// held its socket for good), a tunnel closed by its client before its first byte stayed in
// CLOSE_WAIT, and unreadable requests were closed without a status.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { LinkServer } from '../../hops/runtime/link-server';
import { startTestIngress } from '../helpers/test-ingress';
import { tmpDir } from '../helpers/tmp';
import { collect, openTlsTunnel, openTunnel, rawExchange } from '../helpers/raw-client';

const HEADERS_TIMEOUT_MS = 300;

/** Sockets of this process on `port` in CLOSE_WAIT (the peer closed, this side never did). */
function closeWaitOn(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((l) => l.trim().split(/\s+/)[1]?.endsWith(`:${hex}`) && l.trim().split(/\s+/)[3] === '08').length;
}

describe('link server: clients that never finish their headers, and unreadable requests', function () {
  this.timeout(20_000);
  const dir = tmpDir('moat-lt-');
  let server: LinkServer;
  let auth = '';
  let ca = '';

  before(async () => {
    // Nothing here is forwarded: the next hop is a port nobody listens on.
    const next = { port: 1, hop: 1, name: 'nowhere' };
    ({ server, auth, ca } = await startTestIngress({
      home: dir.path,
      next,
      onward: { kind: 'forward_hop', next, beyond: next },
      forwarderAuthorization: 'token',
      linkAuthorization: 'token',
      server: { headersTimeoutMs: HEADERS_TIMEOUT_MS },
    }));
  });

  after(async () => {
    await server.close();
    dir.remove();
  });

  it('headers trickled inside a TLS tunnel: 408, then closed, after the headers timeout', async () => {
    const secure = await openTlsTunnel(server.port, auth, ca);
    const t0 = performance.now();
    const reply = collect(secure, 5000);
    secure.write('GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nX-Slow: a');
    const timer = setInterval(() => !secure.destroyed && secure.write('a'), 50);
    const { status } = await reply;
    clearInterval(timer);
    expect(status).to.equal(408);
    // Node checks for expired headers once a second.
    expect(performance.now() - t0).to.be.within(HEADERS_TIMEOUT_MS, HEADERS_TIMEOUT_MS + 2000);
  });

  it(
    'a kept-alive connection idle between requests is not cut by the headers timeout (keepAliveTimeout is its ' +
      'limit)',
    async () => {
      const secure = await openTlsTunnel(server.port, auth, ca);
      const ask = async () => {
        let head = '';
        const got = new Promise<string>((resolve) => {
          const onData = (d: Buffer) => {
            head += d.toString('latin1');
            // The 502 (next hop unreachable) is a small JSON body: its end is the end of the response.
            if (head.includes('}\n')) {
              secure.removeListener('data', onData);
              resolve(head.split('\r\n')[0]);
            }
          };
          secure.on('data', onData);
        });
        secure.write('GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n');
        return got;
      };
      expect(await ask()).to.equal('HTTP/1.1 502 Bad Gateway');
      await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS + 1500));
      expect(secure.destroyed, 'closed while idle').to.equal(false);
      expect(await ask()).to.equal('HTTP/1.1 502 Bad Gateway');
      secure.destroy();
    },
  );

  it('a tunnel that never sends a byte is closed after the headers timeout', async () => {
    const raw = await openTunnel(server.port, auth);
    const t0 = performance.now();
    const reply = await collect(raw, 5000);
    expect(reply.closed).to.equal(true);
    expect(performance.now() - t0).to.be.within(HEADERS_TIMEOUT_MS - 50, HEADERS_TIMEOUT_MS + 1000);
  });

  it('a tunnel its client closes before its first byte is closed at once (no CLOSE_WAIT)', async () => {
    for (let i = 0; i < 5; i++) (await openTunnel(server.port, auth)).end();
    await new Promise((r) => setTimeout(r, 100)); // well under the headers timeout
    expect(closeWaitOn(server.port)).to.equal(0);
  });

  it('unreadable requests are answered with a status before the close: 400, 431', async () => {
    expect((await rawExchange(server.port, 'GARBAGE\x00 / HTTP/1.1\r\n\r\n')).status).to.equal(400);
    expect(
      (
        await rawExchange(
          server.port,
          `GET http://api.anthropic.com/ HTTP/1.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
        )
      ).status,
    ).to.equal(431);
    const secure = await openTlsTunnel(server.port, auth, ca);
    const reply = collect(secure, 3000);
    secure.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    expect((await reply).status).to.equal(400);
  });
});
