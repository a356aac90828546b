// egress.upstream_proxy end to end with a real authenticating corporate proxy (tinyproxy, BasicAuth): intercepted
// HTTPS goes through it with CONNECT, plain HTTP in absolute form, a blind tunnel with CONNECT; a bypass host goes
// direct; a wrong password gives the agent moat's 502 upstream_proxy_auth naming the proxy, a stopped proxy 502
// upstream_proxy_unavailable; plan and status name the proxy by host:port only.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import { CorporateProxy, curlThrough, upBehind } from '../helpers/corporate-proxy';
import { connectPlain } from '../helpers/raw-client';

const PASSWORD = 'corp-Pass-7d1e';
const CREDENTIALS = `alice:${PASSWORD}`;

interface Reply {
  status: number;
  body: string;
}

/** A CONNECT through the chain, then (on 200) GET path over TLS verified as `servername` against the provider CA. */
async function blindGet(port: number, token: string, authority: string, servername: string): Promise<Reply> {
  const socket: net.Socket = await connectPlain(port);
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic ` +
      `${Buffer.from(`moat:${token}`).toString('base64')}\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (text.startsWith('HTTP/1.1 200') && text.includes('\r\n\r\n')) {
        socket.removeListener('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('end', () => resolve(text));
  });
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  if (status !== 200) return { status, body: head.slice(head.indexOf('\r\n\r\n') + 4) };
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, servername, ca: readFileSync(PROVIDER_CA_FILE) }, () => {
      secure.write(`GET /v1/models HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
      let text = '';
      secure.on('data', (d: Buffer) => (text += d.toString('utf8')));
      secure.on('end', () => {
        const [h, ...rest] = text.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(h)?.[1] ?? 0), body: rest.join('\r\n\r\n') });
      });
    });
    secure.once('error', reject);
  });
}

describe('egress.upstream_proxy: through an authenticating corporate proxy (tinyproxy)', function () {
  this.timeout(180_000);
  // A second provider on another loopback address: the blind tunnel's destination (tls.intercept is by host).
  const blindProvider = new FakeProvider();
  const plainSeen: string[] = [];
  const plain = http.createServer((req, res) => {
    plainSeen.push(`${req.headers.host} ${req.url}`);
    req.resume();
    res.end('plain ok');
  });
  let plainPort = 0;
  let corp: CorporateProxy;
  let port = 0;
  let token = '';

  before(async () => {
    await blindProvider.start('127.0.0.2');
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    plainPort = (plain.address() as net.AddressInfo).port;
  });

  const { chain, provider } = chainFixture({
    up: false,
    config: (p) => {
      corp = new CorporateProxy('alice', PASSWORD, [p.port, blindProvider.port]);
      return `proxies: [moat-policy]
tls:
  intercept: ["localhost", "api.anthropic.com"]
egress:
  allow: [localhost, 127.0.0.1, 127.0.0.2, api.anthropic.com]
  resolve:
    "api.anthropic.com:443": "127.0.0.1:${p.port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
  upstream_proxy:
    url: http://127.0.0.1:{CORP_PORT}
    credentials_env: CORP_PROXY_AUTH
    bypass: ["127.0.0.1"]
`;
    },
  });

  before(async () => {
    ({ port, token } = await upBehind(chain, corp, { CORP_PROXY_AUTH: CREDENTIALS }));
  });

  after(async () => {
    await corp?.cleanup();
    await blindProvider.stop();
    plain.close();
  });

  const curl = (url: string) => curlThrough(chain, { port, token }, url);

  it('intercepted HTTPS reaches the provider through the proxy (CONNECT with the credentials)', async () => {
    const res = await curl(`https://localhost:${provider.port}/v1/models`);
    expect(res.status, res.body).to.equal(200);
    expect(JSON.parse(res.body).data[0].id).to.equal('claude-fake-1');
    expect(provider.seen.at(-1)).to.deep.include({ method: 'GET', path: '/v1/models' });
    expect(corp.requests()).to.include(`CONNECT localhost:${provider.port} HTTP/1.1`);
  });

  it('plain HTTP goes to the proxy in absolute form', async () => {
    const res = await curl(`http://localhost:${plainPort}/plain?x=1`);
    expect(res.status, res.body).to.equal(200);
    expect(res.body).to.equal('plain ok');
    expect(corp.requests()).to.include(`GET http://localhost:${plainPort}/plain?x=1 HTTP/1.1`);
    expect(plainSeen.at(-1)).to.equal(`localhost:${plainPort} /plain?x=1`);
  });

  it('a blind tunnel (outside tls.intercept) is opened through the proxy with CONNECT', async () => {
    const res = await blindGet(port, token, `127.0.0.2:${blindProvider.port}`, 'localhost');
    expect(res.status, res.body).to.equal(200);
    expect(blindProvider.seen.at(-1)).to.deep.include({ method: 'GET', path: '/v1/models' });
    expect(corp.requests()).to.include(`CONNECT 127.0.0.2:${blindProvider.port} HTTP/1.1`);
  });

  it('a bypass host and an egress.resolve host go direct: the proxy never sees them', async () => {
    const before = corp.requests().length;
    const bypass = await curl(`http://127.0.0.1:${plainPort}/direct`);
    expect(bypass.status, bypass.body).to.equal(200);
    const resolved = await curl('https://api.anthropic.com/v1/models');
    expect(resolved.status, resolved.body).to.equal(200);
    expect(corp.requests().slice(before)).to.deep.equal([]);
  });

  it('plan and status show the proxy by host:port, never the credentials', async () => {
    const plan = await chain.cli(['plan'], { CORP_PROXY_AUTH: CREDENTIALS });
    expect(plan.stdout).to.contain(`through the upstream proxy 127.0.0.1:${corp.port}`);
    const status = await chain.cli(['status']);
    expect(status.stdout).to.contain(`through the upstream proxy 127.0.0.1:${corp.port}`);
    const rows = await chain.status();
    expect(rows.find((r) => r.role === 'egress').upstream_proxy).to.equal(`127.0.0.1:${corp.port}`);
    for (const text of [plan.stdout, status.stdout, JSON.stringify(rows)]) expect(text).to.not.contain(PASSWORD);
  });

  it('a wrong password: the agent gets 502 upstream_proxy_auth naming the proxy, not its page', async () => {
    await corp.stop();
    await corp.start('another-password');
    for (const url of [`https://localhost:${provider.port}/v1/models`]) {
      const res = await curl(url);
      expect(res.status, res.body).to.equal(502);
      const body = JSON.parse(res.body);
      expect(body.error).to.equal('upstream_proxy_auth');
      expect(body.upstream_proxy).to.equal(`127.0.0.1:${corp.port}`);
      expect(body.message).to.contain(`127.0.0.1:${corp.port}`).and.not.contain(PASSWORD);
    }
    const blind = await blindGet(port, token, `127.0.0.2:${blindProvider.port}`, 'localhost');
    expect(blind.status).to.equal(502);
    expect(JSON.parse(blind.body).error).to.equal('upstream_proxy_auth');
    // The bypass host does not depend on the proxy.
    expect((await curl(`http://127.0.0.1:${plainPort}/direct`)).status).to.equal(200);
  });

  it('the proxy stopped: 502 upstream_proxy_unavailable naming it; the bypass host still answers', async () => {
    await corp.stop();
    const res = await curl(`https://localhost:${provider.port}/v1/models`);
    expect(res.status, res.body).to.equal(502);
    const body = JSON.parse(res.body);
    expect(body.error).to.equal('upstream_proxy_unavailable');
    expect(body.message).to.contain(`127.0.0.1:${corp.port}`);
    const plainRes = await curl(`http://localhost:${plainPort}/x`);
    expect(plainRes.status).to.equal(502);
    expect(JSON.parse(plainRes.body).error).to.equal('upstream_proxy_unavailable');
    expect((await curl(`http://127.0.0.1:${plainPort}/direct`)).status).to.equal(200);
  });

  it('`up` without the variable stops with MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS naming it and the key', async () => {
    await chain.cli(['down']);
    const up = await chain.cli(['up', '-d'], { CORP_PROXY_AUTH: '' });
    expect(up.code).to.not.equal(0);
    expect(up.stderr).to.contain('MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS');
    expect(up.stderr).to.contain('CORP_PROXY_AUTH').and.contain('egress.upstream_proxy.credentials_env');
  });
});
