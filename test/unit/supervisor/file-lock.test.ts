// The lock between moat's commands (supervisor/file-lock.ts): one holder at a time across processes, made 0600, and a
// second ask in the holding process does not let the lock go (closing any descriptor of a file drops the process's
// fcntl locks on it).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { isHeldElsewhere, takeFileLock } from '../../../supervisor/file-lock';
import { REPO_ROOT } from '../../helpers/repo-root';
import { tmpDir } from '../../helpers/tmp';

const MODULE = join(REPO_ROOT, 'dist', 'supervisor', 'file-lock.js');

/** Whether another process can take the lock on `file` at once. */
function takenElsewhere(file: string): boolean {
  const script =
    `const { takeFileLock, isHeldElsewhere } = require(process.argv[1]);` +
    `try { takeFileLock(process.argv[2], 0).release(); console.log('taken'); }` +
    `catch (err) { console.log(isHeldElsewhere(err) ? 'busy' : 'error: ' + err.message); }`;
  const out = execFileSync(process.execPath, ['-e', script, MODULE, file], { encoding: 'utf8' }).trim();
  if (out !== 'taken' && out !== 'busy') throw new Error(out);
  return out === 'taken';
}

describe('file lock', () => {
  const dir = tmpDir('moat-file-lock-');
  after(() => dir.remove());

  it('one holder at a time: another process is refused until it is released; the file is 0600', () => {
    const file = join(dir.path, 'a.lock');
    const lock = takeFileLock(file, 0);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(takenElsewhere(file)).to.equal(false);
    lock.release();
    expect(takenElsewhere(file)).to.equal(true);
  });

  it('a second ask in the holding process is refused and leaves the first lock held', () => {
    const file = join(dir.path, 'b.lock');
    const lock = takeFileLock(file, 0);
    try {
      let second: unknown;
      try {
        takeFileLock(file, 0).release();
      } catch (err) {
        second = err;
      }
      expect(isHeldElsewhere(second)).to.equal(true);
      expect(takenElsewhere(file)).to.equal(false);
    } finally {
      lock.release();
    }
  });
});
