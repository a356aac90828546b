// The mounts that hide moat's state inside a namespace (hide-state.ts), and what an isolated hop keeps of it
// (covered-paths.ts). Pure: the steps and the paths, no mount is made.
import { expect } from 'chai';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hideSteps } from '../../../../supervisor/transparent/hide-state';
import { isInside, keptPaths } from '../../../../supervisor/transparent/covered-paths';
import { tmpDir } from '../../../helpers/tmp';

const PROC = { kind: 'mount', argv: ['-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc', '/proc'] };

describe("hiding moat's state in a namespace: the steps", () => {
  it('mounts a /proc of its own first, then an empty read-only tmpfs over each covered path', () => {
    expect(hideSteps(['/h', '/tmp/moat-pm2-ab'])).to.deep.equal([
      PROC,
      { kind: 'mount', argv: ['-t', 'tmpfs', '-o', 'ro,nosuid,nodev,noexec,mode=0555,size=4k', 'moat-hidden', '/h'] },
      {
        kind: 'mount',
        argv: ['-t', 'tmpfs', '-o', 'ro,nosuid,nodev,noexec,mode=0555,size=4k', 'moat-hidden', '/tmp/moat-pm2-ab'],
      },
    ]);
  });

  it('binds the kept paths back into their cover while it is writable, then makes the cover read-only', () => {
    const keep = ['/h/chains/c/hops/2-tinyproxy', '/h/ca.crt', '/elsewhere/file'];
    expect(hideSteps(['/h', '/tmp/moat-pm2-ab'], keep)).to.deep.equal([
      PROC,
      { kind: 'mount', argv: ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,mode=0555,size=4k', 'moat-hidden', '/h'] },
      { kind: 'mountpoint', keep: 0, path: '/h/chains/c/hops/2-tinyproxy' },
      { kind: 'bind', keep: 0, path: '/h/chains/c/hops/2-tinyproxy' },
      { kind: 'mountpoint', keep: 1, path: '/h/ca.crt' },
      { kind: 'bind', keep: 1, path: '/h/ca.crt' },
      { kind: 'mount', argv: ['-o', 'remount,bind,ro,nosuid,nodev,noexec', '/h'] },
      // Nothing kept inside: read-only at once. A kept path under no cover needs nothing.
      {
        kind: 'mount',
        argv: ['-t', 'tmpfs', '-o', 'ro,nosuid,nodev,noexec,mode=0555,size=4k', 'moat-hidden', '/tmp/moat-pm2-ab'],
      },
    ]);
  });

  it('a path that only begins like a covered one is not inside it', () => {
    expect(isInside('/h/ca.crt', '/h')).to.equal(true);
    expect(isInside('/h', '/h')).to.equal(true);
    expect(isInside('/home/x', '/h')).to.equal(false);
    expect(isInside('/h2/ca.crt', '/h')).to.equal(false);
    const steps = hideSteps(['/h'], ['/h2/ca.crt']);
    expect(steps.map((s) => s.kind)).to.deep.equal(['mount', 'mount']);
  });

  it('keeps existing paths by their real path, none inside another', () => {
    const dir = tmpDir('moat-keep-');
    try {
      const home = join(dir.path, 'home');
      const hop = join(home, 'chains', 'c', 'hops', '1-x');
      mkdirSync(hop, { recursive: true });
      writeFileSync(join(hop, 'conf'), '');
      writeFileSync(join(home, 'ca.crt'), '');
      symlinkSync(home, join(dir.path, 'link'));
      expect(
        keptPaths([
          join(dir.path, 'link', 'chains', 'c', 'hops', '1-x'),
          join(hop, 'conf'),
          join(home, 'ca.crt'),
          join(home, 'gone'),
        ]),
      ).to.deep.equal([hop, join(home, 'ca.crt')]);
    } finally {
      dir.remove();
    }
  });
});
