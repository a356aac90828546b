// The abstract socket a Moat process takes link TLS on (hops/runtime/link-socket.ts), attacked through its name: a
// process that took the name first keeps it, and the Moat process fails to start saying so, rather than share it; and
// the process before it, connecting to a squatter, sends it nothing: the squatter has no leaf of the Moat CA.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LinkPool } from '../../hops/runtime/link-client';
import { LINK_SERVERNAME } from '../../hops/runtime/forwarder';
import { ensureCa } from '../../supervisor/chain/ca';
import { stateLayout } from '../../supervisor/chain/state';
import { REPO_ROOT } from '../helpers/repo-root';
import { tmpDir } from '../helpers/tmp';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', name));
import { randomBytes } from 'node:crypto';
import { linkSocketAddress, listenOnLinkSocket } from '../../hops/runtime/link-socket';

describe('security: a link socket whose name another process holds', () => {
  const servers: net.Server[] = [];
  const dirs: { remove(): void }[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) if (s.listening) await new Promise((r) => s.close(r));
    for (const d of dirs.splice(0)) d.remove();
  });
  const server = (answer: string) => {
    const s = net.createServer((c) => c.end(answer));
    servers.push(s);
    return s;
  };
  const answerAt = (name: string) =>
    new Promise<string>((resolve, reject) => {
      let got = '';
      net
        .connect(linkSocketAddress(name))
        .on('data', (d) => (got += d))
        .on('end', () => resolve(got))
        .on('error', reject);
    });

  it('is not taken over: starting fails naming the socket, and every connection still reaches the holder', async () => {
    const name = `moat-link-test-${randomBytes(6).toString('hex')}`;
    await listenOnLinkSocket(server('squatter'), name);
    const refused = await listenOnLinkSocket(server('moat'), name).then(
      () => 'listening',
      (e: Error) => e.message,
    );
    expect(refused).to.equal(`its link socket @${name} is held by another process`);
    expect(await answerAt(name)).to.equal('squatter');
  });

  it('is free again once its holder is killed: nothing is left at the name', async () => {
    const name = `moat-link-test-${randomBytes(6).toString('hex')}`;
    const killed = spawnSync(
      process.execPath,
      [
        '-e',
        "require('net').createServer().listen('\\0' + process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
        name,
      ],
      { timeout: 10_000 },
    );
    expect(killed.signal).to.equal('SIGKILL');
    await listenOnLinkSocket(server('moat'), name);
    expect(await answerAt(name)).to.equal('moat');
  });

  it("a squatter's listener gets no byte of a request: the link client checks the Moat leaf before it sends", async () => {
    const name = `moat-link-test-${randomBytes(6).toString('hex')}`;
    // Another process's TLS server at the name, with a certificate of its own CA (not the Moat CA).
    let decrypted = 0;
    const squatter = tls.createServer({ key: fixture('provider.key'), cert: fixture('provider.crt') }, (s) =>
      s.on('data', (d: Buffer) => (decrypted += d.length)),
    );
    servers.push(squatter);
    await listenOnLinkSocket(squatter, name);
    const home = tmpDir('moat-ca-');
    dirs.push(home);
    const layout = stateLayout('c', home.path);
    ensureCa(layout);
    const pool = new LinkPool({
      host: '127.0.0.1',
      port: 1,
      path: linkSocketAddress(name),
      name: LINK_SERVERNAME,
      secureContext: tls.createSecureContext({ ca: readFileSync(layout.caCertFile) }),
    });
    const secret = randomBytes(32).toString('hex');
    const failed = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
      const req = pool.request('GET', 'https://api.anthropic.com/v1/models', {
        host: 'api.anthropic.com',
        'proxy-authorization': `Basic ${Buffer.from(`moat:${secret}`).toString('base64')}`,
      });
      req.on('response', () => reject(new Error('answered')));
      req.on('error', resolve);
      req.end();
    });
    pool.destroy();
    expect(failed.code).to.match(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    await new Promise((r) => setTimeout(r, 100));
    expect(decrypted).to.equal(0);
  });
});
