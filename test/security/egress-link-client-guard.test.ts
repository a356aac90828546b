// The agent's attack on egress's address guard through the link client's pools (hops/runtime/forwarder.ts egressPool):
// with egress.allow a glob, an intercepted HTTPS request to a name that resolves to this machine, or to an address
// literal of it, must reach nothing here. A local TLS service whose certificate holds localhost and 127.0.0.1 (the
// provider fixture) stands for what the agent is after: were the guard skipped, TLS would succeed and it would answer.
// The same service, named exactly in egress.resolve, answers: the attack is refused by the guard, not by anything else.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../hops/runtime/forwarder';
import type { EgressSpec } from '../../hops/spec';
import { REPO_ROOT } from '../helpers/repo-root';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', name), 'utf8');

describe('security: egress by the link client checks the address of a host a glob admits', function () {
  this.timeout(20_000);
  let service: https.Server;
  let servicePort = 0;
  let reached = 0;
  let forwarder: Forwarder;
  let front: http.Server;
  let frontPort = 0;
  let target = { host: '', port: 0 };

  const egress = (): EgressSpec => ({
    allow: ['*'],
    // localhost on port 443 only, mapped to the same name on the service's port, which is itself left to the glob.
    resolve: { 'localhost:443': `localhost:${servicePort}` },
    extraCa: [],
    timeoutMs: 5000,
  });

  before(async () => {
    service = https.createServer({ key: fixture('provider.key'), cert: fixture('provider.crt') }, (req, res) => {
      req.resume();
      res.end('local service');
    });
    service.on('connection', () => reached++);
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    servicePort = (service.address() as AddressInfo).port;
    forwarder = new Forwarder({ kind: 'internet', trustedCa: [fixture('provider-ca.crt')], egress: egress() });
    front = http.createServer((req, res) => {
      delete req.headers.connection;
      forwarder.forward(req, res, { scheme: 'https', ...target }, { onDone: () => undefined });
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontPort = (front.address() as AddressInfo).port;
  });
  beforeEach(() => (reached = 0));
  after(async () => {
    forwarder.close();
    front.close();
    await new Promise<void>((resolve) => service.close(() => resolve()));
  });

  function get(host: string, port: number): Promise<{ status: number; body: string; error?: string }> {
    target = { host, port };
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: frontPort, path: '/', agent: new http.Agent() }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body, error: res.headers['x-moat-error'] as string | undefined }),
          );
        })
        .on('error', reject);
    });
  }

  it('a name that resolves to loopback (localhost) is refused before any connection, every time', async () => {
    for (let i = 0; i < 2; i++) {
      const answer = await get('localhost', servicePort);
      expect(answer.status, answer.body).to.equal(403);
      expect(answer.error).to.equal('egress_address_refused');
      expect(answer.body).to.contain('loopback');
    }
    expect(reached, 'connections the local service received').to.equal(0);
  });

  it('address literals of this machine are refused before any connection', async () => {
    for (const host of ['127.0.0.1', '::1', '127.0.0.2']) {
      const answer = await get(host, servicePort);
      expect(answer.status, `${host}: ${answer.body}`).to.equal(403);
      expect(answer.error, host).to.equal('egress_address_refused');
    }
    expect(reached).to.equal(0);
  });

  it('the same service named exactly in egress.resolve answers (the refusals above are the guard’s)', async () => {
    const answer = await get('localhost', 443);
    expect(answer.status, answer.body).to.equal(200);
    expect(answer.body).to.equal('local service');
    expect(reached).to.equal(1);
  });

  it('a connection opened for a name egress.resolve names is never lent to the same name and port a glob admits', async () => {
    // The named request leaves its connection to localhost:<service> idle in egress's pools; the glob's request to
    // exactly that address and name must not find it there.
    expect((await get('localhost', 443)).status).to.equal(200);
    const answer = await get('localhost', servicePort);
    expect(answer.status, answer.body).to.equal(403);
    expect(answer.error).to.equal('egress_address_refused');
  });
});
