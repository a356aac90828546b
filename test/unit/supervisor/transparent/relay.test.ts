// The outside end of a transparent run, on loopback: a listener standing in for the namespace's,
// served by TransparentRelay, and a fake ingress that records the CONNECT it gets and echoes bytes.
import { expect } from 'chai';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { TransparentRelay, targetOf } from '../../../../supervisor/transparent/relay';
import { namespaceHint, namespaceTools } from '../../../../supervisor/transparent/run';
import { isolationPurpose } from '../../../../supervisor/transparent/hop-main';
import { transparentEnv } from '../../../../supervisor/commands/env';
import { stateLayout } from '../../../../supervisor/chain/state';
import { MoatError } from '../../../../supervisor/errors';

const listen = (server: net.Server) =>
  new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));

/** Answers CONNECT with `status`, then echoes whatever comes through the tunnel. */
class FakeIngress {
  readonly connects: string[] = [];
  readonly server = net.createServer((socket) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      this.connects.push(head.slice(0, end));
      socket.write(`HTTP/1.1 ${this.status} x\r\n\r\n`);
      if (this.status !== 200) return void socket.end();
      const rest = head.slice(end + 4);
      if (rest) socket.write(Buffer.from(rest, 'latin1'));
      socket.pipe(socket);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  });
  status = 200;
}

describe('transparent: the relay into ingress', () => {
  let ingress: FakeIngress;
  let front: net.Server;
  let relay: TransparentRelay;
  let frontPort: number;
  let ingressPort: number;
  const logged: string[] = [];

  before(async () => {
    ingress = new FakeIngress();
    ingressPort = await listen(ingress.server);
    front = net.createServer();
    frontPort = await listen(front);
    relay = new TransparentRelay({
      target: { port: ingressPort, hop: 0, name: 'ingress' },
      token: 'tok',
      log: (l) => logged.push(l),
      sniffTimeoutMs: 500,
    });
    relay.serve(front, 443);
  });

  after(() => {
    relay.close();
    front.close();
    ingress.server.close();
  });

  beforeEach(() => {
    ingress.status = 200;
    ingress.connects.length = 0;
    logged.length = 0;
  });

  it('opens CONNECT <SNI>:443 with the token, then passes the ClientHello on unchanged', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: frontPort, servername: 'api.anthropic.com' });
    socket.on('error', () => undefined);
    // The fake ingress echoes: the client gets its own ClientHello back, which it rejects. The CONNECT is what counts.
    await new Promise((r) => socket.once('close', r));
    expect(ingress.connects).to.have.length(1);
    const [line, ...headers] = ingress.connects[0].split('\r\n');
    expect(line).to.equal('CONNECT api.anthropic.com:443 HTTP/1.1');
    expect(ingress.connects[0]).not.to.contain('x-moat-plain-http');
    expect(headers).to.include(`Proxy-Authorization: Basic ${Buffer.from('moat:tok').toString('base64')}`);
  });

  it('opens CONNECT <Host>:<port it was captured on> for plain HTTP, and relays both ways', async () => {
    const raw = 'GET /x HTTP/1.1\r\nHost: plain.example\r\nConnection: close\r\n\r\n';
    const got = await new Promise<string>((resolve) => {
      const socket = net.connect(frontPort, '127.0.0.1', () => socket.write(raw));
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
        if (text.length >= raw.length) {
          socket.destroy();
          resolve(text);
        }
      });
    });
    expect(ingress.connects[0].split('\r\n')[0]).to.equal('CONNECT plain.example:443 HTTP/1.1');
    // Plain HTTP is always seen: ingress is told not to relay it blind (tls.intercept applies to TLS only).
    expect(ingress.connects[0].split('\r\n')).to.include('x-moat-plain-http: 1');
    expect(got).to.equal(raw);
  });

  it('a TLS client without SNI is cut, and the reason logged', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: frontPort });
    const err = await new Promise<Error>((r) => socket.once('error', r));
    expect(err.message).to.match(/socket disconnected|ECONNRESET/);
    expect(ingress.connects).to.deep.equal([]);
    expect(logged).to.deep.equal(['refused a TLS connection to port 443: the ClientHello names no server']);
  });

  it('plain HTTP without a host gets 400; when ingress refuses, 502', async () => {
    const get = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: frontPort, path: '/', headers, setHost: false }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
        });
        req.on('error', reject);
        req.end();
      });
    const noHost = await get({});
    expect(noHost.status).to.equal(400);
    expect(noHost.body.error).to.equal('bad_request');
    ingress.status = 407;
    const refused = await get({ host: 'a.example' });
    expect(refused.status).to.equal(502);
    expect(refused.body).to.deep.include({ error: 'hop_unavailable', hop: 0, hop_name: 'ingress' });
    expect(logged).to.include('ingress refused CONNECT a.example:443: HTTP/1.1 407 x');
  });

  it('for an isolated hop the target is its next link: CONNECT goes there, and a failure names that hop', async () => {
    const server = net.createServer();
    const port = await listen(server);
    const lines: string[] = [];
    const next = new TransparentRelay({
      target: { port: ingressPort, hop: 3, name: 'moat-policy' },
      token: 'tok',
      log: (l) => lines.push(l),
    });
    next.serve(server, 80);
    const get = () =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/x', headers: { host: 'b.example' } }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
          })
          .on('error', reject);
      });
    try {
      ingress.status = 403;
      const refused = await get();
      expect(ingress.connects[0].split('\r\n')[0]).to.equal('CONNECT b.example:80 HTTP/1.1');
      expect(ingress.connects[0]).to.contain(
        `Proxy-Authorization: Basic ${Buffer.from('moat:tok').toString('base64')}`,
      );
      expect(refused.status).to.equal(502);
      expect(refused.body).to.deep.include({
        error: 'hop_unavailable',
        hop: 3,
        hop_name: 'moat-policy',
        message: 'moat-policy refused the tunnel to b.example:80',
      });
      expect(lines).to.deep.equal(['moat-policy refused CONNECT b.example:80: HTTP/1.1 403 x']);
    } finally {
      next.close();
      server.close();
    }
  });

  it('a connection that says nothing is closed after the sniff timeout', async () => {
    const socket = net.connect(frontPort, '127.0.0.1');
    const started = Date.now();
    await new Promise((r) => socket.once('close', r));
    expect(Date.now() - started).to.be.within(400, 3000);
  });

  it('first bytes: TLS by 0x16, else HTTP', () => {
    expect(targetOf(Buffer.from('GET / HTTP/1.1\r\nHost: a.b\r\n\r\n'))).to.deep.equal({
      kind: 'host',
      tls: false,
      host: 'a.b',
    });
    expect(targetOf(Buffer.from([0x16, 3, 1]))).to.deep.equal({ kind: 'more' });
    expect(targetOf(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).to.deep.equal({
      kind: 'none',
      tls: false,
      reason: 'not an HTTP/1 request',
    });
  });
});

describe('transparent: what the command gets, and what it needs', () => {
  it('the environment has the Moat CA and placeholders, no proxy settings and no chain token', () => {
    const layout = stateLayout('default', '/tmp/moat-home');
    const env = transparentEnv(
      { PATH: '/bin', HTTPS_PROXY: 'http://moat:tok@127.0.0.1:1', no_proxy: 'x', ALL_PROXY: 'socks5://h' },
      layout,
      { ANTHROPIC_API_KEY: 'sk-ant-placeholder' },
    );
    expect(env).to.deep.equal({
      PATH: '/bin',
      SSL_CERT_FILE: layout.caBundleFile,
      REQUESTS_CA_BUNDLE: layout.caBundleFile,
      CURL_CA_BUNDLE: layout.caBundleFile,
      GIT_SSL_CAINFO: layout.caBundleFile,
      NODE_EXTRA_CA_CERTS: layout.caCertFile,
      ANTHROPIC_API_KEY: 'sk-ant-placeholder',
    });
  });

  it('MOAT_ERR_NAMESPACES names the missing tool and its package, or the platform', () => {
    const fails = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).to.be.instanceOf(MoatError);
        expect((err as MoatError).code).to.equal('MOAT_ERR_NAMESPACES');
        return (err as MoatError).message;
      }
      throw new Error('did not throw');
    };
    expect(fails(() => namespaceTools((c) => (c === 'ip' ? undefined : `/usr/bin/${c}`), 'linux'))).to.equal(
      'run --transparent needs `ip` (package iproute2), not found on PATH; install it (e.g. `apt-get install ' +
        'iproute2`)',
    );
    expect(fails(() => namespaceTools(() => undefined, 'linux')))
      .to.contain('`unshare` (package util-linux), `ip` (package iproute2) and `mount` (package util-linux)')
      .and.contain('apt-get install util-linux iproute2`');
    expect(fails(() => namespaceTools((c) => (c === 'mount' ? undefined : `/usr/bin/${c}`), 'linux'))).to.equal(
      'run --transparent needs `mount` (package util-linux), not found on PATH; install it (e.g. `apt-get install ' +
        'util-linux`)',
    );
    expect(fails(() => namespaceTools(() => '/x', 'darwin'))).to.contain('this system is darwin');
    expect(namespaceTools((c) => `/usr/bin/${c}`, 'linux')).to.deep.equal({
      unshare: '/usr/bin/unshare',
      ip: '/usr/bin/ip',
      mount: '/usr/bin/mount',
    });
  });

  it('for an isolated hop the messages name the hop and what to do instead', () => {
    const purpose = isolationPurpose(2, 'agentreserve');
    const fails = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as MoatError).message;
      }
      throw new Error('did not throw');
    };
    expect(fails(() => namespaceTools(() => undefined, 'linux', purpose))).to.match(
      /^hop 2 \(agentreserve\), isolated in network namespaces \(isolation: netns, the default\) needs `unshare`/,
    );
    expect(fails(() => namespaceTools(() => '/x', 'darwin', purpose))).to.equal(
      'hop 2 (agentreserve), isolated in network namespaces (isolation: netns, the default) needs Linux ' +
        'network namespaces; this system is darwin. Set `isolation: none` on it (any local process can then ' +
        'send into its port; a hop that dials destinations itself must then be the last)',
    );
    expect(namespaceHint(1000, purpose)).to.contain('run it as root').and.contain('set `isolation: none` on it');
  });

  it('the hint says how to allow user namespaces, or that root is refused them too', () => {
    expect(namespaceHint(1000))
      .to.contain('run it as root')
      .and.contain('user.max_user_namespaces')
      .and.contain('kernel.apparmor_restrict_unprivileged_userns=0');
    expect(namespaceHint(0)).to.contain('even to root');
  });
});
