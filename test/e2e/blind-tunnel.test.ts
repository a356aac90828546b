// tls.intercept end to end: a host outside the list is tunnelled blind through every hop (moat-telemetry, tinyproxy,
// moat-policy, egress), keeps its end-to-end TLS (the client sees the fake provider's own certificate), is still
// subject to moat-policy and egress.allow, and is recorded at every boundary with intercepted: false.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type net from 'node:net';
import { PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import { connectPlain } from '../helpers/raw-client';
import { timedRequest } from '../helpers/proxy-client';
import type { MoatEvent } from '../../schemas/generated/event';

const PROVIDER_CERT = new X509Certificate(
  readFileSync(`${PROVIDER_CA_FILE.replace(/provider-ca\.crt$/, 'provider.crt')}`),
);
const HOSTS = ['api.anthropic.com', 'blind.example.com', 'forbidden.example.com', 'outside.example.com'];

/** A CONNECT with the chain token; resolves with the answer's head (and body, on a refusal) and the socket. */
async function connect(
  port: number,
  token: string,
  authority: string,
): Promise<{ status: number; text: string; socket: net.Socket }> {
  const socket = await connectPlain(port);
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic ` +
      `${Buffer.from(`moat:${token}`).toString('base64')}\r\n\r\n`,
  );
  return new Promise((resolve, reject) => {
    let text = '';
    const done = () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text, socket });
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /content-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (
        text.startsWith('HTTP/1.1 200') ||
        text.startsWith('HTTP/1.0 200') ||
        (length && text.length >= end + 4 + Number(length[1]))
      ) {
        socket.removeListener('data', onData);
        done();
      }
    };
    socket.on('data', onData);
    socket.once('end', done);
    socket.once('error', reject);
  });
}

/** GET path over TLS inside the tunnel, trusting only the provider's CA: the answer and the certificate seen. */
function getOverTls(
  socket: net.Socket,
  host: string,
  path: string,
): Promise<{ status: number; body: string; cert: tls.PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, servername: host, ca: readFileSync(PROVIDER_CA_FILE) }, () => {
      const cert = secure.getPeerCertificate();
      secure.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      let text = '';
      secure.on('data', (d: Buffer) => (text += d.toString('utf8')));
      secure.on('end', () => {
        const [head, ...rest] = text.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body: rest.join('\r\n\r\n'), cert });
        secure.end();
      });
    });
    secure.once('error', reject);
  });
}

describe('tls.intercept: blind tunnels through moat-telemetry, tinyproxy and moat-policy', function () {
  this.timeout(120_000);
  let port = 0;
  let token = '';

  const { chain, provider } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry, tinyproxy, moat-policy]
tls:
  intercept: ["api.anthropic.com"]
policy:
  rules:
    - id: no-forbidden
      match: "forbidden.example.com/*"
      action: deny
egress:
  allow: [api.anthropic.com, blind.example.com, forbidden.example.com]
  resolve:
${HOSTS.map((h) => `    "${h}:443": "127.0.0.1:${provider.port}"`).join('\n')}
  extra_ca: ["${PROVIDER_CA_FILE}"]
`,
  });

  before(async () => {
    port = (await chain.status()).find((r) => r.name === 'ingress').port;
    token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
  });

  const events = (where: (e: MoatEvent) => boolean, count: number) => chain.ledgerEvents(where, count);

  it(
    'a blind host answers through the chain, and the client ' + "sees the provider's own certificate, not a Moat leaf",
    async () => {
      const { status, socket } = await connect(port, token, 'blind.example.com:443');
      expect(status).to.equal(200);
      const res = await getOverTls(socket, 'blind.example.com', '/v1/models');
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body).data[0].id).to.equal('claude-fake-1');
      expect(res.cert.fingerprint256).to.equal(PROVIDER_CERT.fingerprint256);
      expect(res.cert.issuer.CN).to.equal('moat test provider CA (fixtures only)');
      expect(provider.seen.at(-1)).to.deep.include({ method: 'GET', host: 'blind.example.com', path: '/v1/models' });
    },
  );

  it('every boundary records the tunnel with intercepted: false, the same bytes each way, and its life', async () => {
    const all = await events((e) => e.host === 'blind.example.com' && e.intercepted === false, 8);
    expect(all).to.have.length(8);
    expect(new Set(all.map((e) => e.trace)).size, 'one trace across the chain').to.equal(1);
    const requests = all.filter((e) => e.direction === 'request').sort((a, b) => a.boundary - b.boundary);
    const responses = all.filter((e) => e.direction === 'response').sort((a, b) => a.boundary - b.boundary);
    expect(requests.map((e) => e.boundary)).to.deep.equal([0, 1, 2, 3]);
    expect(responses.map((e) => e.boundary)).to.deep.equal([0, 1, 2, 3]);
    for (const e of all)
      expect(e).to.deep.include({ method: 'CONNECT', scheme: 'https', host: 'blind.example.com', port: 443, path: '' });
    // Nothing is decrypted or rewritten: every boundary passed the same bytes, but for the client's closing TLS
    // alert, which races the provider's close (it may end its trip before reaching the inner boundaries).
    const up = requests[0].body_size!;
    const down = responses[0].body_size!;
    expect(up).to.be.greaterThan(300); // ClientHello and the request, encrypted
    expect(down).to.be.greaterThan(1000); // the provider's certificate chain at least
    for (const e of requests) expect(e.body_size).to.be.within(up - 64, up);
    expect(responses.map((e) => e.body_size)).to.deep.equal([down, down, down, down]);
    for (const r of responses) {
      expect(r.status).to.equal(200);
      expect(r.elapsed_ms).to.be.a('number');
      expect(r.error).to.equal(undefined);
    }
    expect(responses[2].decision, 'moat-policy allowed it by host').to.equal('allow');
    expect(JSON.stringify(all)).not.to.contain(token);
  });

  it('a moat-policy deny rule on the blind host answers the CONNECT with 403 naming the rule', async () => {
    const before = provider.seen.length;
    const { status, text, socket } = await connect(port, token, 'forbidden.example.com:443');
    socket.destroy();
    expect(status, text).to.equal(403);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(body).to.deep.include({ error: 'policy_denied', rule: 'no-forbidden' });
    expect(provider.seen.length).to.equal(before);
    const denied = await events(
      (e) => e.host === 'forbidden.example.com' && e.direction === 'response' && e.boundary === 2,
      1,
    );
    expect(denied[0]).to.deep.include({ intercepted: false, status: 403, decision: 'deny', rule: 'no-forbidden' });
  });

  it('a blind host outside egress.allow is refused by egress', async () => {
    const { status, text, socket } = await connect(port, token, 'outside.example.com:443');
    socket.destroy();
    expect(status, text).to.equal(403);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).to.deep.include({ error: 'egress_denied' });
    const refused = await events(
      (e) => e.host === 'outside.example.com' && e.direction === 'response' && e.boundary === 3,
      1,
    );
    expect(refused[0]).to.deep.include({ intercepted: false, status: 403, error: 'egress_denied' });
  });

  it('the intercepted host behaves as before: a Moat leaf, events with headers and no intercepted field', async () => {
    const a = await chain.agent();
    const res = await timedRequest(a, 'https://api.anthropic.com/v1/models');
    await a.close();
    expect(res.status, res.body).to.equal(200);
    const seen = await events((e) => e.host === 'api.anthropic.com', 8);
    expect(seen).to.have.length(8);
    for (const e of seen) {
      expect(e.intercepted).to.equal(undefined);
      expect(e.method).to.equal('GET');
    }
  });
});

describe('tls.intercept with mitmproxy as a hop: allow_hosts keeps it off the blind host', function () {
  this.timeout(120_000);
  const { chain } = chainFixture({
    config: (provider) => `proxies: [mitmproxy, moat-telemetry]
tls:
  intercept: ["api.anthropic.com"]
egress:
  allow: [api.anthropic.com, blind.example.com]
  resolve:
${HOSTS.slice(0, 2)
  .map((h) => `    "${h}:443": "127.0.0.1:${provider.port}"`)
  .join('\n')}
  extra_ca: ["${PROVIDER_CA_FILE}"]
`,
  });

  it("the blind host's TLS passes mitmdump untouched: the client sees the provider's certificate", async () => {
    const port = (await chain.status()).find((r) => r.name === 'ingress').port;
    const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
    const { status, socket } = await connect(port, token, 'blind.example.com:443');
    expect(status).to.equal(200);
    const res = await getOverTls(socket, 'blind.example.com', '/v1/models');
    expect(res.status).to.equal(200);
    expect(res.cert.fingerprint256).to.equal(PROVIDER_CERT.fingerprint256);
  });

  it('the intercepted host is still intercepted by mitmdump (it logs the request in clear)', async () => {
    const a = await chain.agent();
    const res = await timedRequest(a, 'https://api.anthropic.com/v1/models');
    await a.close();
    expect(res.status, res.body).to.equal(200);
    const logs = await chain.cli(['logs', '1', '--lines', '200']);
    expect(logs.stdout + logs.stderr).to.contain('/v1/models');
    expect(logs.stdout + logs.stderr).not.to.contain('blind.example.com/v1/models');
  });
});
