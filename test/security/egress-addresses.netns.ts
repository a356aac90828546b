// Run by egress-addresses.test.ts inside namespaces whose /etc/hosts it wrote (test/helpers/hosts-namespace.ts) and
// whose network has only `lo`: not a *.test.js file, so mocha never runs it outside them. The agent's attacks on
// egress's address guard (issue 16, point 2): names that resolve to this machine, to a cloud metadata service, into
// a private network, and address literals the name check lets through. egress.allow is the glob `*`, so only the
// address guard stands between the agent and these addresses.
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { CliChain } from '../helpers/cli-chain';
import { connectPlain } from '../helpers/raw-client';
import type { MoatEvent } from '../../schemas/generated/event';

describe('security: egress checks the address it connects to (in a namespace with its own /etc/hosts)', function () {
  this.timeout(120_000);
  const chain = new CliChain('addr');
  let provider: FakeProvider;
  // Services of this machine the agent must not reach, on 127.0.0.1 and ::1; each counts what reaches it.
  let local: net.Server;
  let local6: net.Server;
  let localPort = 0;
  let local6Port = 0;
  let reached = 0;
  // A plain HTTP service that egress.allow names exactly (named-local.test resolves to 127.0.0.1).
  let named: http.Server;
  let namedPort = 0;
  let auth = '';
  let natsPort = 0;
  // A provider on 1.2.3.4, an address of the namespace's lo that the guard takes for public (public.example.com).
  let publicProvider: FakeProvider;

  const listen = async (server: net.Server, host: string) => {
    await new Promise<void>((r) => server.listen(0, host, r));
    return (server.address() as net.AddressInfo).port;
  };

  before(async () => {
    provider = await new FakeProvider().start();
    publicProvider = await new FakeProvider().start('1.2.3.4');
    const count = (s: net.Socket) => {
      reached++;
      s.destroy();
    };
    local = net.createServer(count);
    local6 = net.createServer(count);
    localPort = await listen(local, '127.0.0.1');
    local6Port = await listen(local6, '::1');
    named = http.createServer((_req, res) => res.end('named local service'));
    namedPort = await listen(named, '127.0.0.1');
    chain.writeConfig(`name: addr
proxies: [moat-telemetry, moat-policy]
tls:
  intercept: [api.anthropic.com, rebind-tls.test, public.example.com]
egress:
  allow: ["*", named-local.test]
  resolve:
    "api.anthropic.com:443": "127.0.0.1:${provider.port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`);
    await chain.up();
    auth = `Basic ${Buffer.from(`moat:${readFileSync(chain.layout.tokenFile, 'utf8').trim()}`).toString('base64')}`;
    natsPort = Number(new URL(JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).natsUrl).port);
  });

  after(async () => {
    await chain.cleanup();
    await provider?.stop();
    await publicProvider?.stop();
    local?.close();
    local6?.close();
    named?.close();
  });

  const ingress = () => JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).ingressPort as number;
  const connect = (authority: string) =>
    exchange(
      ingress(),
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth}\r\n\r\n`,
      8000,
    );
  const get = (url: string) =>
    exchange(
      ingress(),
      `GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nProxy-Authorization: ${auth}\r\nConnection: ` +
        `close\r\n\r\n`,
      8000,
    );
  const refusedAs = (reply: { status?: number; head: string }, what: string, words: string) => {
    expect(reply.status, `${what}: ${reply.head}`).to.equal(403);
    expect(reply.head, what).to.contain('x-moat-error: egress_address_refused');
    expect(reply.head, what).to.contain(words);
  };

  /** Sends payload, collects the whole answer until the connection closes (a refusal closes it) or waitMs passes. */
  async function exchange(port: number, payload: string, waitMs: number): Promise<{ status?: number; head: string }> {
    const socket = await connectPlain(port);
    return new Promise((resolve) => {
      let text = '';
      const done = () => {
        clearTimeout(timer);
        socket.destroy();
        const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
        resolve({ status: m ? Number(m[1]) : undefined, head: text });
      };
      const timer = setTimeout(done, waitMs);
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (/^HTTP\/1\.1 200 Connection Established\r\n\r\n/.test(text)) done();
      });
      socket.on('close', done);
      socket.on('error', done);
      socket.write(payload);
    });
  }

  const events = (where: (e: MoatEvent) => boolean, count: number) => chain.ledgerEvents(where, count);

  it('the namespace resolves the test names (the attacks below are real)', async () => {
    const dns = await import('node:dns/promises');
    expect((await dns.lookup('rebind.test')).address).to.equal('127.0.0.1');
    expect((await dns.lookup('rebind6.test')).address).to.equal('::1');
    expect((await dns.lookup('metadata.test')).address).to.equal('169.254.169.254');
  });

  it(
    'a name that resolves to 127.0.0.1 reaches no local ' + 'service: plain http, intercepted https, blind tunnel',
    async () => {
      refusedAs(await get(`http://rebind.test:${localPort}/`), 'GET http://rebind.test', 'loopback');
      refusedAs(await connect(`rebind6.test:${local6Port}`), 'CONNECT rebind6.test (::1)', 'loopback');
      // Intercepted: the agent's TLS ends at ingress, egress would open its own to the name.
      const agent = await chain.agent();
      const res = await request(`https://rebind-tls.test:${localPort}/`, { dispatcher: agent });
      const body = await res.body.text();
      await agent.close();
      expect(res.statusCode, body).to.equal(403);
      expect(res.headers['x-moat-error']).to.equal('egress_address_refused');
      expect(reached, 'connections the local services received').to.equal(0);
    },
  );

  it("a blind tunnel through such a name does not reach the chain's own nats-server", async () => {
    for (const name of ['rebind.test', 'rebind-mapped.test', 'REBIND.test.']) {
      const reply = await connect(`${name}:${natsPort}`);
      refusedAs(reply, `CONNECT ${name}:<nats>`, 'loopback');
      expect(reply.head, 'no INFO line from nats-server').to.not.contain('INFO {');
    }
    const refused = await events(
      (e) => e.host === 'rebind.test' && e.direction === 'response' && e.boundary === 2 && e.intercepted === false,
      1,
    );
    expect(refused[0], 'the refusal is recorded at the last boundary (egress)').to.deep.include({
      status: 403,
      error: 'egress_address_refused',
    });
  });

  it('address literals the name check lets through: NAT64 and IPv4-compatible spellings of loopback', async () => {
    for (const host of ['[64:ff9b::7f00:1]', '[64:ff9b::127.0.0.1]', '[::7f00:1]']) {
      refusedAs(await connect(`${host}:${localPort}`), `CONNECT ${host}`, 'address');
      refusedAs(await get(`http://${host}:${localPort}/`), `GET ${host}`, 'address');
    }
    expect(reached).to.equal(0);
  });

  it(
    'the cloud metadata service, by name and by address ' + '(no route here: refused before any connection)',
    async () => {
      refusedAs(
        await get('http://metadata.test/latest/meta-data/iam/security-credentials/'),
        'metadata.test',
        'cloud metadata',
      );
      refusedAs(await get('http://alibaba-metadata.test/latest/meta-data/'), 'alibaba-metadata.test', 'cloud metadata');
      refusedAs(await get('http://100.100.100.200/latest/meta-data/'), '100.100.100.200', 'cloud metadata');
      refusedAs(await get('http://[fd00:ec2::254]/latest/meta-data/'), 'fd00:ec2::254', 'cloud metadata');
      refusedAs(await connect('metadata.test:80'), 'CONNECT metadata.test', 'cloud metadata');
    },
  );

  it('a private network address, by name and by address', async () => {
    refusedAs(await get('http://private.test/'), 'private.test', 'private network');
    refusedAs(await get('http://10.0.0.1/'), '10.0.0.1', 'private network');
    refusedAs(await connect('private.test:443'), 'CONNECT private.test', 'private network');
  });

  it(
    'a host named only by the glob, at a public address, ' + 'works as before: intercepted (pooled) and blind',
    async () => {
      const agent = await chain.agent();
      for (let i = 0; i < 3; i++) {
        const res = await request(`https://public.example.com:${publicProvider.port}/v1/models`, {
          dispatcher: agent,
        });
        expect(res.statusCode, `request ${i}`).to.equal(200);
        await res.body.text();
      }
      await agent.close();
      expect(publicProvider.seen.length).to.equal(3);
      const tunnel = await exchange(
        ingress(),
        `CONNECT blind-public.example.com:${publicProvider.port} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`,
        8000,
      );
      expect(tunnel.status, tunnel.head).to.equal(200);
    },
  );

  it(
    'what the config names exactly still works: egress.resolve to the provider, an exact egress.allow entry to ' +
      'a local service',
    async () => {
      const agent = await chain.agent();
      const res = await request('https://api.anthropic.com/v1/models', { dispatcher: agent });
      expect(res.statusCode).to.equal(200);
      await res.body.text();
      await agent.close();
      const local = await get(`http://named-local.test:${namedPort}/`);
      expect(local.status, local.head).to.equal(200);
      const verify = await chain.cli(['verify']);
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    },
  );
});
