// Egress's HTTPS to destinations by the link client (hops/runtime/link-client.ts, a pool per address, port and name
// in hops/runtime/forwarder.ts), against a real TLS server on 127.0.0.1 standing in for a provider: what Node's
// https.Agent did that a provider relies on, kept (SNI for a name and none for an address, the certificate checked for
// the name the request used, connections reused, the server's Keep-Alive hint, TLS sessions resumed).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Forwarder } from '../../hops/runtime/forwarder';
import type { EgressSpec } from '../../hops/spec';
import { REPO_ROOT } from '../helpers/repo-root';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', name), 'utf8');

interface Connection {
  servername: string | false;
  resumed: boolean;
}

describe('egress: HTTPS to a destination by the link client', function () {
  this.timeout(20_000);
  let provider: https.Server;
  let providerPort = 0;
  let connections: Connection[] = [];
  let keepAliveHint: string | undefined;
  const forwarders: Forwarder[] = [];
  const fronts: http.Server[] = [];

  before(async () => {
    // The fixture's certificate holds api.anthropic.com, localhost and 127.0.0.1 (among others), not other.test.
    provider = https.createServer({ key: fixture('provider.key'), cert: fixture('provider.crt') }, (req, res) => {
      req.resume();
      if (keepAliveHint) res.setHeader('keep-alive', keepAliveHint);
      res.end(JSON.stringify({ host: req.headers.host }));
    });
    provider.on('secureConnection', (socket: TLSSocket) =>
      connections.push({
        servername: (socket as TLSSocket & { servername: string | false }).servername,
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
  afterEach(() => {
    forwarders.splice(0).forEach((f) => f.close());
    fronts.splice(0).forEach((s) => s.close());
  });
  after(() => new Promise<void>((resolve) => provider.close(() => resolve())));

  /** A server that hands every request to a Forwarder towards the internet, for host:port over HTTPS. */
  async function egressTo(egress: Partial<EgressSpec>, host: string, port: number): Promise<number> {
    const forwarder = new Forwarder({
      kind: 'internet',
      trustedCa: [fixture('provider-ca.crt')],
      egress: { allow: [], resolve: {}, extraCa: [], timeoutMs: 5000, ...egress },
    });
    forwarders.push(forwarder);
    const front = http.createServer((req, res) => {
      // As the link server hands a request over: its hop-by-hop headers gone.
      delete req.headers.connection;
      forwarder.forward(req, res, { scheme: 'https', host, port }, { onDone: () => undefined });
    });
    fronts.push(front);
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    return (front.address() as AddressInfo).port;
  }

  function get(port: number): Promise<{ status: number; body: string; error?: string }> {
    const agent = new http.Agent({ keepAlive: false });
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/v1/models', agent }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body, error: res.headers['x-moat-error'] as string | undefined }),
          );
        })
        .on('error', reject);
    });
  }

  it('a name is sent as SNI and the certificate checked for it; requests share one connection', async () => {
    const front = await egressTo(
      { resolve: { 'api.anthropic.com:443': `127.0.0.1:${providerPort}` } },
      'api.anthropic.com',
      443,
    );
    for (let i = 0; i < 3; i++) {
      const answer = await get(front);
      expect(answer.status, answer.body).to.equal(200);
      expect(JSON.parse(answer.body).host).to.equal('api.anthropic.com');
    }
    expect(connections).to.deep.equal([{ servername: 'api.anthropic.com', resumed: false }]);
  });

  it('an address is not sent as SNI, and the certificate is checked for the address', async () => {
    const front = await egressTo({ allow: ['127.0.0.1'] }, '127.0.0.1', providerPort);
    const answer = await get(front);
    expect(answer.status, answer.body).to.equal(200);
    expect(connections).to.deep.equal([{ servername: false, resumed: false }]);
  });

  it('the certificate is checked for the name the request used, not the address egress.resolve maps it to', async () => {
    // other.test is mapped to 127.0.0.1, which the certificate holds; other.test it does not.
    const front = await egressTo({ resolve: { 'other.test:443': `127.0.0.1:${providerPort}` } }, 'other.test', 443);
    const answer = await get(front);
    expect(answer.status, answer.body).to.equal(502);
    expect(answer.body).to.match(/other\.test/);
  });

  it("a server's Keep-Alive hint shorter than our idle time: the connection is not reused; the TLS session is", async () => {
    keepAliveHint = 'timeout=1';
    const front = await egressTo(
      { resolve: { 'api.anthropic.com:443': `127.0.0.1:${providerPort}` } },
      'api.anthropic.com',
      443,
    );
    expect((await get(front)).status).to.equal(200);
    expect((await get(front)).status).to.equal(200);
    expect(connections.map((c) => c.resumed)).to.deep.equal([false, true]);
  });

  it('a hint that leaves time keeps the connection', async () => {
    keepAliveHint = 'timeout=10, max=100';
    const front = await egressTo(
      { resolve: { 'api.anthropic.com:443': `127.0.0.1:${providerPort}` } },
      'api.anthropic.com',
      443,
    );
    expect((await get(front)).status).to.equal(200);
    expect((await get(front)).status).to.equal(200);
    expect(connections).to.have.length(1);
  });
});
