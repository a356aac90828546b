// A WebSocket handshake is a request like any other (issue 21): the agent tries to use it as a way round what guards
// requests. Without the chain token, or with ingress's token at another listener (link TLS, the side door), it gets
// 407 and nothing is upgraded; its own spelling of the chain's WebSocket mark goes no further than ingress; its offer
// of permessage-deflate never reaches the server (frames must stay readable); frames it compresses anyway, or breaks,
// are closed by moat-policy before they reach the server; an ambiguous path is refused before any upgrade.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { ECHO_PATH } from '../fixtures/fake-websocket';
import { inprocFixture } from '../helpers/inproc-fixture';
import { collect, rawExchange } from '../helpers/raw-client';
import { connectWebSocket, WebSocketRefused, type WsClient } from '../helpers/ws-client';

const HOST = 'echo.example.com';

/** A handshake's request text: absolute form for a proxy, or origin form inside a tunnel. */
const handshake = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

describe('security: WebSocket handshakes take no way round the chain', function () {
  this.timeout(60_000);
  const { provider, chain, agent } = inprocFixture([HOST], { hops: ['moat-policy'] });
  const token = () => chain().token;
  const basic = (credential: string) => `Basic ${Buffer.from(`moat:${credential}`).toString('base64')}`;

  async function open(path: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return connectWebSocket({
      url: `wss://${HOST}${path}`,
      proxy: { port: chain().ingressPort, auth: `moat:${token()}` },
      ca: readFileSync(chain().layout.caCertFile),
      headers,
    });
  }

  const handshakesTo = (path: string) => provider.ws.handshakes.filter((h) => h.path === path);

  it('no token at ingress: 407, no upgrade, nothing reaches the server', async () => {
    const reply = await rawExchange(chain().ingressPort, handshake(`http://${HOST}/ws/echo?no-token`));
    expect(reply.status).to.equal(407);
    const wrong = await rawExchange(
      chain().ingressPort,
      handshake(`http://${HOST}/ws/echo?wrong-token`, `Proxy-Authorization: ${basic('not-the-token')}\r\n`),
    );
    expect(wrong.status).to.equal(407);
    expect(provider.ws.handshakes.filter((h) => h.path.includes('token'))).to.deep.equal([]);
  });

  it("ingress's token at moat-policy's own listener (link TLS, the side door): 407, nothing upgraded", async () => {
    const policy = chain().links.find((l) => l.name === 'moat-policy')!;
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect(
        {
          host: '127.0.0.1',
          port: policy.port,
          servername: 'moat-link.invalid',
          ca: readFileSync(chain().layout.caCertFile),
        },
        () => resolve(s),
      );
      s.once('error', reject);
    });
    const reply = collect(secure, 3000);
    secure.write(handshake(`https://${HOST}/ws/echo?side-door`, `Proxy-Authorization: ${basic(token())}\r\n`));
    expect((await reply).status).to.equal(407);
    expect(handshakesTo(`${ECHO_PATH}?side-door`)).to.deep.equal([]);
  });

  it("the agent's x-moat-websocket on a plain request, and every x-moat-* header, stay inside the chain", async () => {
    const res = await request(`https://${HOST}/v1/models`, {
      dispatcher: agent(),
      headers: { 'x-moat-websocket': '1' },
    });
    expect(res.statusCode).to.equal(200);
    await res.body.text();
    const seen = provider.seen.at(-1)!;
    expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-moat-'))).to.deep.equal([]);
    const ws = await open(`${ECHO_PATH}?marks`, { 'x-moat-websocket': 'forged' });
    ws.sendText('hi');
    expect((await ws.next()).text).to.equal('hi');
    await ws.close(1000);
    const [h] = handshakesTo(`${ECHO_PATH}?marks`);
    expect(Object.keys(h.headers).filter((n) => n.startsWith('x-moat-'))).to.deep.equal([]);
  });

  it('an offer of permessage-deflate never reaches the server: frames stay readable', async () => {
    const ws = await open(`${ECHO_PATH}?deflate`, {
      'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    });
    await ws.close(1000);
    const [h] = handshakesTo(`${ECHO_PATH}?deflate`);
    expect(h.status).to.equal(101);
    expect(h.headers['sec-websocket-extensions']).to.equal(undefined);
    expect(h.extensions).to.equal('');
  });

  it('a compressed frame (RSV1) sent anyway is closed by moat-policy (1008); the server never gets it', async () => {
    const ws = await open(`${ECHO_PATH}?rsv`);
    // FIN + RSV1 + text, masked, 5 bytes.
    const mask = Buffer.from([9, 8, 7, 6]);
    const payload = Buffer.from('hello').map((b, i) => b ^ mask[i & 3]);
    ws.writeRaw(Buffer.concat([Buffer.from([0xc1, 0x85]), mask, payload]));
    const closed = await ws.closed;
    expect(closed.code).to.equal(1008);
    const [h] = handshakesTo(`${ECHO_PATH}?rsv`);
    expect(provider.ws.messages.filter((m) => m.connection === h.connection && m.op !== 'close')).to.deep.equal([]);
  });

  it('broken frames (a reserved opcode) are closed by moat-policy, and nothing after them reaches the server', async () => {
    const ws = await open(`${ECHO_PATH}?broken`);
    ws.sendText('before');
    expect((await ws.next()).text).to.equal('before');
    ws.writeRaw(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
    ws.sendText('after');
    const closed = await ws.closed;
    expect(closed.code).to.equal(1008);
    const [h] = handshakesTo(`${ECHO_PATH}?broken`);
    const texts = provider.ws.messages.filter(
      (m) => m.connection === h.connection && m.from === 'client' && m.op === 'text',
    );
    expect(texts.map((m) => m.text)).to.deep.equal(['before']);
  });

  it('an ambiguous handshake path is refused before any upgrade', async () => {
    try {
      (await open('/ws/a%2Fadmin')).abort();
      expect.fail('upgraded');
    } catch (err) {
      expect(err).to.be.instanceOf(WebSocketRefused);
      expect((err as WebSocketRefused).status).to.equal(400);
      expect((err as WebSocketRefused).headers['x-moat-error']).to.equal('ambiguous_request');
    }
    expect(provider.ws.handshakes.filter((h) => h.path.includes('admin'))).to.deep.equal([]);
  });
});
