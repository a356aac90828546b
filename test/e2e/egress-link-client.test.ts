// Egress's HTTPS to destinations by the link client (hops/runtime/link-client.ts, a pool per address, port and name
// in hops/runtime/forwarder.ts), against real TLS servers on 127.0.0.1 standing in for a provider: what Node's
// https.Agent did that a provider relies on, kept (SNI for a name, the certificate checked for the name the request
// used, connections reused, the server's Keep-Alive hint, TLS sessions resumed, every shape of answer), and one change
// (an address is not sent as SNI).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../hops/runtime/forwarder';
import type { EgressSpec } from '../../hops/spec';
import { REPO_ROOT } from '../helpers/repo-root';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', name), 'utf8');
// The fixture's certificate holds api.anthropic.com, localhost and 127.0.0.1 (among others), not other.test.
const tlsOptions = () => ({ key: fixture('provider.key'), cert: fixture('provider.crt') });

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A front that hands every request to one Forwarder towards the internet, for the destination in `x-dest`. */
class Egress {
  private readonly forwarder: Forwarder;
  private readonly front: http.Server;

  constructor(egress: Partial<EgressSpec>) {
    this.forwarder = new Forwarder({
      kind: 'internet',
      trustedCa: [fixture('provider-ca.crt')],
      egress: { allow: [], resolve: {}, extraCa: [], timeoutMs: 5000, ...egress },
    });
    this.front = http.createServer((req, res) => {
      const [host, port] = String(req.headers['x-dest']).split(/:(?=\d+$)/);
      // As the link server hands a request over: its hop-by-hop headers gone.
      delete req.headers['x-dest'];
      delete req.headers.connection;
      this.forwarder.forward(req, res, { scheme: 'https', host, port: Number(port) }, { onDone: () => undefined });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.front.listen(0, '127.0.0.1', resolve));
    return this;
  }

  request(dest: string, method = 'GET'): Promise<Answer> {
    const port = (this.front.address() as AddressInfo).port;
    return new Promise((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port, method, path: '/v1/models', headers: { 'x-dest': dest } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
          res.on('error', reject);
        })
        .on('error', reject)
        .end();
    });
  }

  close(): void {
    this.forwarder.close();
    this.front.close();
  }
}

describe('egress: HTTPS to a destination by the link client', function () {
  this.timeout(20_000);
  let provider: https.Server;
  let providerPort = 0;
  let connections: { servername: string | false; resumed: boolean }[] = [];
  let keepAliveHint: string | undefined;
  let egress: Egress | undefined;

  before(async () => {
    provider = https.createServer(tlsOptions(), (req, res) => {
      req.resume();
      if (keepAliveHint) res.setHeader('keep-alive', keepAliveHint);
      res.end(JSON.stringify({ host: req.headers.host }));
    });
    provider.on('secureConnection', (socket: tls.TLSSocket) =>
      connections.push({
        servername: (socket as tls.TLSSocket & { servername: string | false }).servername,
        resumed: socket.isSessionReused(),
      }),
    );
    // Node's server sends its own hint (timeout=5) only when asked to: this one leaves it to the test.
    provider.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    providerPort = (provider.address() as AddressInfo).port;
  });
  beforeEach(() => {
    connections = [];
    keepAliveHint = undefined;
  });
  afterEach(() => egress?.close());
  after(() => new Promise<void>((resolve) => provider.close(() => resolve())));

  const mapped = (...names: string[]) =>
    new Egress({ resolve: Object.fromEntries(names.map((n) => [n, `127.0.0.1:${providerPort}`])) }).start();

  it('a name is sent as SNI and the certificate checked for it; requests share one connection', async () => {
    egress = await mapped('api.anthropic.com:443');
    for (let i = 0; i < 3; i++) {
      const answer = await egress.request('api.anthropic.com:443');
      expect(answer.status, answer.body).to.equal(200);
      expect(JSON.parse(answer.body).host).to.equal('api.anthropic.com');
    }
    expect(connections).to.deep.equal([{ servername: 'api.anthropic.com', resumed: false }]);
  });

  it('an address is not sent as SNI (RFC 6066; Node sent it, with a warning), and the certificate is checked for it', async () => {
    egress = await new Egress({ allow: ['127.0.0.1'] }).start();
    const answer = await egress.request(`127.0.0.1:${providerPort}`);
    expect(answer.status, answer.body).to.equal(200);
    expect(connections).to.deep.equal([{ servername: false, resumed: false }]);
  });

  it('the certificate is checked for the name the request used, not the address egress.resolve maps it to', async () => {
    // Both are mapped to 127.0.0.1, which the certificate holds; other.test and 192.0.2.7 it does not.
    egress = await mapped('other.test:443', '192.0.2.7:443');
    for (const dest of ['other.test:443', '192.0.2.7:443']) {
      const answer = await egress.request(dest);
      expect(answer.status, `${dest}: ${answer.body}`).to.equal(502);
      expect(answer.headers['x-moat-error'], dest).to.equal('upstream_tls');
    }
  });

  it('a TLS session is offered again only for the name it was made for', async () => {
    egress = await mapped('api.anthropic.com:443', 'other.test:443');
    expect((await egress.request('api.anthropic.com:443')).status).to.equal(200);
    // Were api.anthropic.com's session offered for other.test, the server would resume it and skip the name check.
    const answer = await egress.request('other.test:443');
    expect(answer.status, answer.body).to.equal(502);
  });

  it("a server's Keep-Alive hint shorter than our idle time: the connection is not reused; the TLS session is", async () => {
    keepAliveHint = 'timeout=1';
    egress = await mapped('api.anthropic.com:443');
    expect((await egress.request('api.anthropic.com:443')).status).to.equal(200);
    expect((await egress.request('api.anthropic.com:443')).status).to.equal(200);
    expect(connections.map((c) => c.resumed)).to.deep.equal([false, true]);
  });

  it('a hint that leaves time keeps the connection', async () => {
    keepAliveHint = 'timeout=10, max=100';
    egress = await mapped('api.anthropic.com:443');
    expect((await egress.request('api.anthropic.com:443')).status).to.equal(200);
    expect((await egress.request('api.anthropic.com:443')).status).to.equal(200);
    expect(connections).to.have.length(1);
  });
});

describe('egress: every shape of answer a destination may give, by the link client', function () {
  this.timeout(20_000);
  let server: tls.Server;
  let port = 0;
  let connections = 0;
  /** What the server answers, by the request's method and path. */
  let answer = '';
  let egress: Egress;

  before(async () => {
    server = tls.createServer(tlsOptions(), (socket) => {
      connections++;
      let held = '';
      socket.on('data', (d: Buffer) => {
        held += d.toString('latin1');
        // One request at a time, no body: answered when its head is in.
        if (!held.includes('\r\n\r\n')) return;
        held = '';
        socket.write(answer);
        if (/^HTTP\/1\.0|connection: close/im.test(answer)) socket.end();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    egress = await new Egress({ resolve: { 'api.anthropic.com:443': `127.0.0.1:${port}` } }).start();
  });
  after(() => {
    egress.close();
    server.close();
  });

  const shapes: { name: string; method?: string; answer: string; status: number; body: string; reused: boolean }[] = [
    {
      name: 'HEAD: a length and no body',
      method: 'HEAD',
      answer: 'HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n',
      status: 200,
      body: '',
      reused: true,
    },
    { name: '204', answer: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '', reused: true },
    { name: '304', answer: 'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n', status: 304, body: '', reused: true },
    {
      name: 'HTTP/1.0, ending with the connection',
      answer: 'HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nold server',
      status: 200,
      body: 'old server',
      reused: false,
    },
    {
      name: '100 and 103 before the answer',
      answer:
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
      status: 200,
      body: 'ok',
      reused: true,
    },
    {
      name: 'Connection: close',
      answer: 'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye',
      status: 200,
      body: 'bye',
      reused: false,
    },
    {
      name: 'chunked, with trailers',
      answer:
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-t\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\nx-t: 1\r\n\r\n',
      status: 200,
      body: 'abc',
      reused: true,
    },
  ];

  for (const shape of shapes)
    it(`${shape.name}: answered as sent, and the connection reused only when it may be`, async () => {
      answer = shape.answer;
      // An egress of its own: its first request opens the first connection.
      const fresh = await new Egress({ resolve: { 'api.anthropic.com:443': `127.0.0.1:${port}` } }).start();
      const before = connections;
      try {
        const first = await fresh.request('api.anthropic.com:443', shape.method);
        expect({ status: first.status, body: first.body }).to.deep.equal({ status: shape.status, body: shape.body });
        const second = await fresh.request('api.anthropic.com:443', shape.method);
        expect({ status: second.status, body: second.body }).to.deep.equal({ status: shape.status, body: shape.body });
      } finally {
        fresh.close();
      }
      expect(connections - before, 'connections the two requests opened').to.equal(shape.reused ? 1 : 2);
    });

  it('a 101 nobody asked for fails the request at once with 502, instead of waiting for egress.timeout_ms', async () => {
    answer = 'HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n';
    const started = Date.now();
    const failed = await egress.request('api.anthropic.com:443');
    expect(failed.status, failed.body).to.equal(502);
    expect(Date.now() - started).to.be.below(4000);
  });
});
