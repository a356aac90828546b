// Private state (supervisor/chain/private-files.ts): which mode each kind of entry gets, a tree of an older install
// made private, and a pm2 home in /tmp that someone else made refused.
import { expect } from 'chai';
import { chmodSync, lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, makeTreePrivate, privateMode } from '../../../../supervisor/chain/private-files';
import { tmpDir } from '../../../helpers/tmp';

describe('private state files', () => {
  it('directories 0700, other entries 0600 keeping the owner execute bit, symbolic links untouched', () => {
    expect(privateMode('dir', 0o40755)).to.equal(0o700);
    expect(privateMode('dir', 0o40700)).to.equal(undefined);
    expect(privateMode('file', 0o100644)).to.equal(0o600);
    expect(privateMode('file', 0o100600)).to.equal(undefined);
    expect(privateMode('file', 0o100755)).to.equal(0o700);
    expect(privateMode('other', 0o140777)).to.equal(0o600); // a socket
    expect(privateMode('symlink', 0o120777)).to.equal(undefined);
  });

  it('makes an existing tree private, and leaves what a symbolic link points at alone', () => {
    const dir = tmpDir('moat-priv-');
    try {
      const root = join(dir.path, 'home');
      mkdirSync(join(root, 'chains', 'a', 'run'), { recursive: true, mode: 0o755 });
      chmodSync(root, 0o755);
      writeFileSync(join(root, 'ca.crt'), 'x', { mode: 0o644 });
      writeFileSync(join(root, 'chains', 'a', 'plan.json'), '{}', { mode: 0o664 });
      const outside = join(dir.path, 'outside');
      writeFileSync(outside, 'y', { mode: 0o644 });
      symlinkSync(outside, join(root, 'chains', 'a', 'link'));
      const changed = makeTreePrivate(root);
      expect(changed).to.include(join(root, 'ca.crt'));
      expect(statSync(root).mode & 0o777).to.equal(0o700);
      expect(statSync(join(root, 'chains', 'a', 'run')).mode & 0o777).to.equal(0o700);
      expect(statSync(join(root, 'ca.crt')).mode & 0o777).to.equal(0o600);
      expect(statSync(join(root, 'chains', 'a', 'plan.json')).mode & 0o777).to.equal(0o600);
      expect(statSync(outside).mode & 0o777).to.equal(0o644);
      expect(makeTreePrivate(root)).to.deep.equal([]);
    } finally {
      dir.remove();
    }
  });

  it("refuses a pm2 home that is a symbolic link or another user's directory", () => {
    const dir = tmpDir('moat-priv-');
    try {
      const link = join(dir.path, 'pm2-link');
      symlinkSync(dir.path, link);
      expect(() => ensurePrivateDir(link)).to.throw(/is not a directory \(a symbolic link\)/);
      const theirs = join(dir.path, 'pm2-theirs');
      mkdirSync(theirs, { mode: 0o777 });
      const me = process.getuid!();
      expect(() => ensurePrivateDir(theirs, me + 1)).to.throw(
        new RegExp(`${theirs} belongs to another user \\(uid ${me}, you are ${me + 1}\\)`),
      );
      ensurePrivateDir(theirs, me);
      expect(lstatSync(theirs).mode & 0o777).to.equal(0o700);
    } finally {
      dir.remove();
    }
  });
});
