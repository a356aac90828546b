// The grant store's lock (MOAT_HOME/grants.lock), attacked as a process of the same user would: `moat grant add` run
// while another command holds the store waits for it and keeps both grants (without the lock it wrote over the other's
// change at once); a lock held for good makes it fail naming the store and the lock, changing nothing; eight adds at
// once all land.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { grantCli } from '../helpers/grant-cli';
import { MOAT_BIN } from '../helpers/cli-chain';
import { tmpDir } from '../helpers/tmp';
import { openStore, storeFileOf, storeLockOf } from '../../supervisor/grants/store';
import { takeFileLock } from '../../supervisor/file-lock';

const noKeyring = () => ({ why: 'off in this test' });
const hostArgs = (n: number) => ['--host', `api${n}.example.com`, '--header', 'x-example-key'];

describe('security: the grant store lock, attacked', function () {
  this.timeout(60_000);
  let dir: { path: string; remove(): void };
  let home: string;
  const env = () => ({ env: { ...process.env, MOAT_HOME: home } });
  const names = () => (openStore(home, noKeyring)?.grants ?? []).map((g) => g.name).sort();

  beforeEach(() => {
    dir = tmpDir();
    home = join(dir.path, 'home');
    expect(grantCli(env(), ['add', 'first', ...hostArgs(1)], 'xk-first-key').code).to.equal(0);
  });
  afterEach(() => dir.remove());

  it('an add while another command holds the store waits for it, then keeps both grants', async () => {
    const held = takeFileLock(storeLockOf(home), 0);
    const child = spawn(process.execPath, [MOAT_BIN, 'grant', 'add', 'second', ...hostArgs(2)], {
      env: { ...process.env, MOAT_HOME: home, MOAT_GRANT_KEYRING: 'off' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end('xk-second-key\n');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let early: number | null | undefined;
    void exited.then((code) => (early = code));
    await new Promise((r) => setTimeout(r, 1500));
    try {
      expect(early, `exited while the store was held: ${stderr}`).to.equal(undefined);
      expect(names()).to.deep.equal(['first']);
    } finally {
      held.release();
    }
    expect(await exited, stderr).to.equal(0);
    expect(names()).to.deep.equal(['first', 'second']);
  });

  it('a lock held for good: add fails after its wait naming the store and the lock, and changes nothing', () => {
    const held = takeFileLock(storeLockOf(home), 0);
    try {
      const started = Date.now();
      const res = grantCli(env(), ['add', 'second', ...hostArgs(2)], 'xk-second-key');
      expect(res.code).to.equal(1);
      expect(res.stderr)
        .to.contain(storeFileOf(home))
        .and.contain(storeLockOf(home))
        .and.contain('MOAT_ERR_GRANT_STORE')
        .and.not.contain('xk-second-key');
      expect(Date.now() - started).to.be.within(4000, 20_000);
      const rm = grantCli(env(), ['rm', 'first']);
      expect(rm.code).to.equal(1);
      expect(rm.stderr).to.contain('MOAT_ERR_GRANT_STORE');
    } finally {
      held.release();
    }
    expect(names()).to.deep.equal(['first']);
  });

  it('eight adds at once: every grant lands', async () => {
    const runs = Array.from({ length: 8 }, (_, i) => {
      const child = spawn(process.execPath, [MOAT_BIN, 'grant', 'add', `g${i}`, ...hostArgs(10 + i)], {
        env: { ...process.env, MOAT_HOME: home, MOAT_GRANT_KEYRING: 'off' },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.stdin.end(`xk-key-${i}\n`);
      return new Promise<number | null>((resolve) => child.once('exit', resolve));
    });
    expect(await Promise.all(runs)).to.deep.equal(Array(8).fill(0));
    expect(names()).to.deep.equal(['first', ...Array.from({ length: 8 }, (_, i) => `g${i}`)].sort());
  });
});
