// The tools an isolated hop's helper runs after /run is hidden (namespaces.ts findTool): found outside /run, or by
// where they lead from there (NixOS: setuid wrappers in /run/wrappers/bin, the system's tools behind
// /run/current-system's links).
import { expect } from 'chai';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from '../../../../supervisor/transparent/namespaces';
import { tmpDir } from '../../../helpers/tmp';

describe('isolated hops: the tools the helper runs after /run is hidden', () => {
  const dir = tmpDir('moat-tool-');
  after(() => dir.remove());
  const run = join(dir.path, 'run');
  const file = (path: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '');
    return path;
  };
  const wrapper = file(join(run, 'wrappers', 'wrappers.x', 'mount'));
  mkdirSync(join(run, 'wrappers', 'bin'));
  symlinkSync(wrapper, join(run, 'wrappers', 'bin', 'mount'));
  const store = file(join(dir.path, 'store', 'util-linux', 'bin', 'mount'));
  mkdirSync(join(run, 'current-system'));
  symlinkSync(join(dir.path, 'store', 'util-linux', 'bin'), join(run, 'current-system', 'bin'));
  // A busybox-like applet: a link whose name is what it does.
  const busybox = file(join(dir.path, 'busybox', 'busybox'));
  mkdirSync(join(dir.path, 'sbin'));
  symlinkSync(busybox, join(dir.path, 'sbin', 'mount'));
  const path = (...dirs: string[]) => dirs.join(':');

  it('takes the first on PATH outside /run, by where it leads when found in /run', () => {
    expect(findTool('mount', path(join(run, 'wrappers', 'bin'), join(run, 'current-system', 'bin')), run)).to.equal(
      realpathSync(store),
    );
  });

  it('a tool only in /run is taken by where it leads; one elsewhere as found (an applet keeps its name)', () => {
    expect(findTool('mount', path(join(run, 'wrappers', 'bin')), run)).to.equal(realpathSync(wrapper));
    expect(findTool('mount', path(join(dir.path, 'sbin'), join(run, 'current-system', 'bin')), run)).to.equal(
      join(dir.path, 'sbin', 'mount'),
    );
    expect(findTool('nosuchtool', path(join(dir.path, 'sbin')), run)).to.equal(undefined);
  });
});
