// Spellings of a host that a server reads as another (issue 16, hosts): a trailing dot, numeric IPv4 forms,
// IPv4-mapped IPv6. Through a running chain, each is decided as the host it reaches: a deny rule on
// blocked.example.test denies `blocked.example.test.`, and egress's guard against this machine refuses every
// spelling of 127.0.0.1, for requests and for blind tunnels (which would give raw TCP to a local service).
import { expect } from 'chai';
import net from 'node:net';
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { CliChain } from '../helpers/cli-chain';
import { rawExchange } from '../helpers/raw-client';
import { readFileSync } from 'node:fs';

describe('security: a host is decided as the server reads it, however it is spelled', function () {
  this.timeout(120_000);
  const chain = new CliChain('spell');
  let provider: FakeProvider;
  let local: net.Server;
  let localPort = 0;
  let localConnections = 0;
  let auth = '';

  before(async () => {
    provider = await new FakeProvider().start();
    // A service of this machine the agent must not reach (the chain's own nats-server, say).
    local = net.createServer((s) => {
      localConnections++;
      s.destroy();
    });
    await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
    localPort = (local.address() as net.AddressInfo).port;
    // egress.allow is a glob (*), so only the guard against this machine's addresses stands between the agent and the
    // local service; the hosts used are mapped to the fake provider, so nothing leaves this machine either way.
    chain.writeConfig(`name: spell
proxies: [moat-telemetry, moat-policy]
policy:
  rules:
    - match: "blocked.example.test/*"
      action: deny
      reason: blocked host
    - match: "*.internal.example.com/*"
      action: deny
      reason: internal APIs are off limits
tls:
  intercept: [api.anthropic.com]
egress:
  allow: ["*"]
  resolve:
    "blocked.example.test:443": "127.0.0.1:${provider.port}"
    "blocked.example.test:80": "127.0.0.1:${provider.port}"
    "api.anthropic.com:443": "127.0.0.1:${provider.port}"
    "other.example.test:443": "127.0.0.1:${provider.port}"
    "db.internal.example.com:443": "127.0.0.1:${provider.port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`);
    await chain.up();
    auth = `Basic ${Buffer.from(`moat:${readFileSync(chain.layout.tokenFile, 'utf8').trim()}`).toString('base64')}`;
  });

  after(async () => {
    await chain.cleanup();
    await provider?.stop();
    local?.close();
  });

  const ingress = () => JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).ingressPort as number;
  const connect = (authority: string) =>
    rawExchange(
      ingress(),
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth}\r\n\r\n`,
      5000,
    );
  const get = (url: string) =>
    rawExchange(
      ingress(),
      `GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
      5000,
    );

  it('a trailing dot does not get past a host rule (CONNECT, blind, and absolute-form)', async () => {
    const before = provider.seen.length;
    for (const authority of ['blocked.example.test:443', 'blocked.example.test.:443', 'BLOCKED.example.test.:443']) {
      const reply = await connect(authority);
      expect(reply.status, `${authority}: ${reply.head}`).to.equal(403);
      expect(reply.head).to.contain('blocked host');
    }
    for (const url of ['http://blocked.example.test./x', 'http://Blocked.Example.Test./x']) {
      const reply = await get(url);
      expect(reply.status, `${url}: ${reply.head}`).to.equal(403);
    }
    expect(provider.seen.length).to.equal(before);
  });

  it('no spelling of this machine reaches a local service: not by a request, not by a blind tunnel', async () => {
    for (const host of [
      '[::ffff:7f00:1]',
      '[::ffff:127.0.0.1]',
      '[0:0:0:0:0:ffff:7f00:1]',
      '2130706433',
      '0x7f.1',
      '127.1',
      '127.0.0.1',
      'localhost.',
    ]) {
      const tunnel = await connect(`${host}:${localPort}`);
      expect(tunnel.status, `CONNECT ${host}: ${tunnel.head}`).to.equal(403);
      expect(tunnel.head).to.contain('egress_denied');
      const request = await get(`http://${host}:${localPort}/`);
      expect(request.status, `GET http://${host}: ${request.head}`).to.equal(403);
    }
    expect(localConnections, 'connections the local service received').to.equal(0);
  });

  it("the README's example rule denies blind tunnels to its own hosts only, not to every host", async () => {
    const other = await connect('other.example.test:443');
    expect(other.status, other.head).to.equal(200);
    const internal = await connect('db.internal.example.com:443');
    expect(internal.status, internal.head).to.equal(403);
    expect(internal.head).to.contain('internal APIs are off limits');
  });

  it('the allowed host still passes, and the ledger verifies', async () => {
    const agent = await chain.agent();
    const { request } = await import('undici');
    const res = await request('https://api.anthropic.com/v1/models', { dispatcher: agent });
    expect(res.statusCode).to.equal(200);
    await res.body.text();
    await agent.close();
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });
});
