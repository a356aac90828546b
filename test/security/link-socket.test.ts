// The abstract socket a Moat process takes link TLS on (hops/runtime/link-socket.ts), attacked through its name: a
// process that took the name first keeps it, and the Moat process fails to start saying so, rather than share it.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { linkSocketAddress, listenOnLinkSocket } from '../../hops/runtime/link-socket';

describe('security: a link socket whose name another process holds', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) if (s.listening) await new Promise((r) => s.close(r));
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
});
