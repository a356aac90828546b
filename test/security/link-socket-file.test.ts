// The Unix socket a Moat process takes link TLS on (hops/runtime/unix-listener.ts), attacked through its path: what
// was left or planted there, and the mode it gets whatever the umask.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { listenOnPath } from '../../hops/runtime/unix-listener';
import { tmpDir } from '../helpers/tmp';

describe('security: a link socket and what was at its path', () => {
  const servers: net.Server[] = [];
  const dirs: { remove(): void }[] = [];
  const place = () => {
    const dir = tmpDir('moat-sock-');
    dirs.push(dir);
    return { dir: dir.path, path: join(dir.path, 'link-1.sock') };
  };
  const serve = () => {
    const server = net.createServer((c) => c.end('ours'));
    servers.push(server);
    return server;
  };
  const answerAt = (path: string) =>
    new Promise<string>((resolve, reject) => {
      let got = '';
      net
        .connect(path)
        .on('data', (d) => (got += d))
        .on('end', () => resolve(got))
        .on('error', reject);
    });
  afterEach(async () => {
    for (const s of servers.splice(0)) if (s.listening) await new Promise((r) => s.close(r));
    for (const d of dirs.splice(0)) d.remove();
  });

  it('a symbolic link planted there is removed, never followed: what it points to stays as it was', async () => {
    const { dir, path } = place();
    const target = join(dir, 'precious');
    writeFileSync(target, 'keep me');
    symlinkSync(target, path);
    await listenOnPath(serve(), path);
    expect(lstatSync(path).isSocket()).to.equal(true);
    expect(readFileSync(target, 'utf8')).to.equal('keep me');
    expect(await answerAt(path)).to.equal('ours');
  });

  it('the socket file of a process that was killed is replaced', async () => {
    const { path } = place();
    const killed = spawnSync(
      process.execPath,
      ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", path],
      { timeout: 10_000 },
    );
    expect(killed.signal).to.equal('SIGKILL');
    expect(lstatSync(path).isSocket()).to.equal(true); // left behind
    await listenOnPath(serve(), path);
    expect(await answerAt(path)).to.equal('ours');
  });

  it('a file or a directory in the way is not removed: listening fails naming the path', async () => {
    const { dir, path } = place();
    writeFileSync(path, 'data');
    const refusal = (at: string) =>
      listenOnPath(serve(), at).then(
        () => undefined,
        (e: Error) => e.message,
      );
    expect(await refusal(path)).to.equal(
      `${path} is in the way of this process's socket and is not a socket; remove it`,
    );
    expect(readFileSync(path, 'utf8')).to.equal('data');
    const other = join(dir, 'link-2.sock');
    mkdirSync(other);
    expect(await refusal(other)).to.contain(other);
    expect(existsSync(other)).to.equal(true);
  });

  it('the socket is 0600 even when the umask would leave it open to others', async () => {
    const { path } = place();
    const before = process.umask(0o022);
    try {
      await listenOnPath(serve(), path);
    } finally {
      process.umask(before);
    }
    expect(lstatSync(path).mode & 0o777).to.equal(0o600);
  });
});
