// The SNI parser over real ClientHellos: captured from Node's tls and from curl (OpenSSL) by a local
// TCP server that keeps the first bytes a client sends and never answers.
import { expect } from 'chai';
import net from 'node:net';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import { clientHelloServerName, isHostName } from '../../../../supervisor/transparent/sni';

/** Accepts one connection, waits until `connect` has sent a whole ClientHello, returns its bytes. */
async function captureHello(connect: (port: number) => () => void): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const bytes = new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        let got = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          got = Buffer.concat([got, chunk]);
          // A record header says how long the first record is; the tests split or cut it themselves.
          if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
            socket.destroy();
            resolve(got);
          }
        });
        socket.on('error', reject);
      });
    });
    const stop = connect(port);
    const out = await bytes;
    stop();
    return out;
  } finally {
    server.close();
  }
}

const nodeHello = (options: tls.ConnectionOptions) =>
  captureHello((port) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    socket.on('error', () => undefined);
    return () => socket.destroy();
  });

/** The handshake message of a single-record hello, re-framed as records of at most `size` bytes each. */
function reframe(hello: Buffer, size: number): Buffer {
  const message = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const fragment = message.subarray(at, at + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

describe('transparent: the SNI of a ClientHello', () => {
  let hello: Buffer;

  before(async () => {
    hello = await nodeHello({ servername: 'api.anthropic.com', ALPNProtocols: ['h2', 'http/1.1'] });
  });

  it("reads the name from Node's ClientHello", () => {
    expect(hello[0]).to.equal(0x16);
    expect(clientHelloServerName(hello)).to.deep.equal({ kind: 'name', name: 'api.anthropic.com' });
  });

  it('asks for more on every cut of the hello, and never misreads one', () => {
    const recordEnd = 5 + hello.readUInt16BE(3);
    for (let n = 0; n < recordEnd; n++)
      expect(clientHelloServerName(hello.subarray(0, n)), `first ${n} bytes`).to.deep.equal({ kind: 'more' });
  });

  it('reads a hello split over several records, and asks for more until the last', () => {
    const split = reframe(hello, 100);
    expect(clientHelloServerName(split)).to.deep.equal({ kind: 'name', name: 'api.anthropic.com' });
    expect(clientHelloServerName(split.subarray(0, split.length - 1))).to.deep.equal({ kind: 'more' });
  });

  it('reads a TLS 1.2 hello and lower-cases the name', async () => {
    const old = await nodeHello({ servername: 'Example.COM', maxVersion: 'TLSv1.2' });
    expect(clientHelloServerName(old)).to.deep.equal({ kind: 'name', name: 'example.com' });
  });

  it('says there is no name when the client sends none (Node sends none to an IP address)', async () => {
    const bare = await nodeHello({});
    expect(clientHelloServerName(bare)).to.deep.equal({ kind: 'none', reason: 'the ClientHello names no server' });
  });

  it("reads curl's (OpenSSL) ClientHello", async function () {
    const curlHello = await captureHello((port) => {
      const child = execFile(
        'curl',
        [
          '-sS',
          '-m',
          '5',
          '--resolve',
          `models.example.test:${port}:127.0.0.1`,
          `https://models.example.test:${port}/`,
        ],
        () => undefined,
      );
      return () => child.kill();
    });
    expect(clientHelloServerName(curlHello)).to.deep.equal({ kind: 'name', name: 'models.example.test' });
  });

  it('refuses what is not a ClientHello', () => {
    expect(clientHelloServerName(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).to.deep.equal({
      kind: 'none',
      reason: 'not a TLS handshake',
    });
    const serverHello = Buffer.from(hello);
    serverHello[5] = 2;
    expect(clientHelloServerName(serverHello)).to.deep.equal({
      kind: 'none',
      reason: 'the first handshake message is not a ClientHello',
    });
    const alertAfter = Buffer.concat([reframe(hello, 10).subarray(0, 15), Buffer.from([0x15, 3, 3, 0, 2, 2, 40])]);
    expect(clientHelloServerName(alertAfter)).to.deep.equal({
      kind: 'none',
      reason: 'the ClientHello is cut by another record',
    });
  });

  it('refuses a hello whose lengths run past its end', () => {
    const broken = Buffer.from(hello);
    // After the record and handshake headers, version and random: the session id, then the cipher suites' length.
    const sessionId = 5 + 4 + 2 + 32;
    broken.writeUInt16BE(0xffff, sessionId + 1 + broken[sessionId]);
    expect(clientHelloServerName(broken)).to.deep.equal({ kind: 'none', reason: 'malformed ClientHello' });
  });

  it('refuses a huge hello without waiting for it', () => {
    const header = Buffer.from([0x16, 3, 1, 0, 4, 1, 0x01, 0x00, 0x00]);
    expect(clientHelloServerName(header)).to.deep.equal({ kind: 'none', reason: 'the ClientHello is too large' });
  });

  it('host names: what ingress takes in CONNECT', () => {
    for (const ok of ['a', 'api.anthropic.com', 'x-1.example.', '127.0.0.1']) expect(isHostName(ok), ok).to.equal(true);
    for (const bad of [
      '',
      'a..b',
      'a b',
      'a:443',
      'a/b',
      '[::1]',
      'é.com',
      'x'.repeat(64) + '.com',
      '_srv.example.com',
    ])
      expect(isHostName(bad), bad).to.equal(false);
  });
});
