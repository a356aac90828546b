// The WebSocket runtime on real sockets, in process (issue 21): what a client sends in the same write as its
// handshake reaches the server; other upgrades (h2c) are served as the plain requests they also are, or refused when
// they carry a body Node does not read; a server's close frame reaches the client before the connection ends.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ECHO_PATH } from '../fixtures/fake-websocket';
import { inprocFixture } from '../helpers/inproc-fixture';
import { collect, openTlsTunnel } from '../helpers/raw-client';
import { connectWebSocket, encodeFrame } from '../helpers/ws-client';

const HOST = 'echo.example.com';

describe('WebSocket runtime (in process): first frames, other upgrades, closes', function () {
  this.timeout(60_000);
  const { provider, chain } = inprocFixture([HOST], { hops: ['moat-telemetry', 'moat-policy'] });
  const auth = () => `Basic ${Buffer.from(`moat:${chain().token}`).toString('base64')}`;
  /** TLS to HOST inside a CONNECT tunnel through ingress, as an agent opens it. */
  const tunnelToHost = () =>
    openTlsTunnel(chain().ingressPort, auth(), readFileSync(chain().layout.caCertFile, 'utf8'), HOST);

  it('a first frame sent in the same write as the handshake reaches the server and is echoed', async () => {
    const tunnel = await tunnelToHost();
    const frame = Buffer.from(encodeFrame(1, Buffer.from('early bird')));
    const head =
      `GET ${ECHO_PATH}?early HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const got: Buffer[] = [];
    const echoed = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo; got ${Buffer.concat(got).toString('latin1')}`)), 5000);
      tunnel.on('data', (d: Buffer) => {
        got.push(d);
        const all = Buffer.concat(got);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0 || all.length < end + 4 + 2 + 10) return;
        clearTimeout(timer);
        resolve(all.subarray(end + 4 + 2, end + 4 + 2 + 10).toString());
      });
    });
    tunnel.write(Buffer.concat([Buffer.from(head), frame]));
    expect(await echoed).to.equal('early bird');
    expect(Buffer.concat(got).toString('latin1')).to.match(/^HTTP\/1\.1 101 /);
    tunnel.destroy();
  });

  it('a GET with Upgrade: h2c is served as the plain request it also is', async () => {
    const tunnel = await tunnelToHost();
    const reply = collect(tunnel, 3000);
    tunnel.write(
      `GET /v1/models HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n` +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    expect((await reply).status).to.equal(200);
    const seen = provider.seen.at(-1)!;
    expect(seen.path).to.equal('/v1/models');
    expect(seen.headers.upgrade).to.equal(undefined);
  });

  it('another upgrade with a body is refused (400), never sent on without its body', async () => {
    const tunnel = await tunnelToHost();
    const before = provider.seen.length;
    const reply = collect(tunnel, 3000);
    tunnel.write(
      `POST /v1/messages HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n` +
        'Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"b12"}',
    );
    const r = await reply;
    expect(r.status).to.equal(400);
    expect(r.head).to.contain('x-moat-error: bad_request');
    expect(provider.seen.length).to.equal(before);
  });

  it("the server's close frame and code reach the client through every process", async () => {
    const ws = await connectWebSocket({
      url: `wss://${HOST}${ECHO_PATH}?server-close`,
      proxy: { port: chain().ingressPort, auth: `moat:${chain().token}` },
      ca: readFileSync(chain().layout.caCertFile),
    });
    // The echo server closes on this text with that code and reason (test/fixtures/fake-websocket.ts).
    ws.sendText('close 4001 server says bye');
    const closed = await ws.closed;
    expect(closed).to.deep.include({ code: 4001, reason: 'server says bye', frame: true });
  });
});
