// What an isolated hop keeps of the user's home to run (program-paths.ts): a program's and its interpreter's install,
// the files its command names alone, the path its command runs, and paths followed link by link.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  commandPrograms,
  followedPath,
  installRoot,
  interpreterOf,
  runnablePath,
} from '../../../../supervisor/transparent/program-paths';
import { isInside } from '../../../../supervisor/chain/private-files';
import { tmpDir } from '../../../helpers/tmp';

describe('isolated hops: what of the home their programs need', () => {
  const marks =
    (...present: string[]) =>
    (p: string) =>
      present.includes(p);

  it('keeps the install a program lies in: its node_modules, the directory above a bin marked as one install', () => {
    const none = marks();
    const venvs = marks('/home/u/.local/share/pipx/venvs/mitmproxy/pyvenv.cfg', '/home/u/proj/.venv/pyvenv.cfg');
    // nvm's and pyenv's versions are installs by where they lie.
    expect(installRoot('/home/u/.nvm/versions/node/v20/bin/node', '/home/u', none)).to.equal(
      '/home/u/.nvm/versions/node/v20',
    );
    expect(installRoot('/home/u/.pyenv/versions/3.11.7/bin/python3.11', '/home/u', none)).to.equal(
      '/home/u/.pyenv/versions/3.11.7',
    );
    expect(installRoot('/home/u/.local/share/pipx/venvs/mitmproxy/bin/mitmdump', '/home/u', venvs)).to.equal(
      '/home/u/.local/share/pipx/venvs/mitmproxy',
    );
    expect(installRoot('/home/u/proj/.venv/bin/python', '/home/u', venvs)).to.equal('/home/u/proj/.venv');
    // A project's bin, however deep: the project holds its .env and .git beside it.
    expect(installRoot('/home/u/code/acme/bin/proxy', '/home/u', venvs)).to.equal('/home/u/code/acme/bin/proxy');
    expect(installRoot('/home/u/.local/share/pipx/venvs/mitmproxy/bin/mitmdump', '/home/u', none)).to.equal(
      '/home/u/.local/share/pipx/venvs/mitmproxy/bin/mitmdump',
    );
    expect(installRoot('/home/u/.npm-global/lib/node_modules/@x/ccr/dist/cli.js', '/home/u', none)).to.equal(
      '/home/u/.npm-global/lib/node_modules',
    );
    expect(installRoot('/home/u/proj/node_modules/a/node_modules/b/x.js', '/home/u', none)).to.equal(
      '/home/u/proj/node_modules',
    );
  });

  it('right under the home too: miniconda, a venv, pyenv and its shims; ~/.local, ~/.cargo, a project alone', () => {
    const marked = marks('/home/u/miniconda3/conda-meta', '/home/u/.venv/pyvenv.cfg', '/home/u/.pyenv/versions');
    expect(installRoot('/home/u/miniconda3/bin/python3', '/home/u', marked)).to.equal('/home/u/miniconda3');
    expect(installRoot('/home/u/.venv/bin/python', '/home/u', marked)).to.equal('/home/u/.venv');
    expect(installRoot('/home/u/.pyenv/shims/python3', '/home/u', marked)).to.equal('/home/u/.pyenv');
    // ~/.local and ~/.cargo hold keyrings, credentials and histories beside their bin; a project its .env.
    expect(installRoot('/home/u/.local/bin/headroom', '/home/u', marked)).to.equal('/home/u/.local/bin/headroom');
    expect(installRoot('/home/u/.cargo/bin/tool', '/home/u', marked)).to.equal('/home/u/.cargo/bin/tool');
    expect(installRoot('/home/u/proj/bin/hop.py', '/home/u', marked)).to.equal('/home/u/proj/bin/hop.py');
    expect(installRoot('/home/u/bin/hop', '/home/u', marked)).to.equal('/home/u/bin/hop');
    expect(installRoot('/home/u/code/proj/hop.py', '/home/u', marked)).to.equal('/home/u/code/proj/hop.py');
    expect(installRoot('/home/u/hop.py', '/home/u', marked)).to.equal('/home/u/hop.py');
  });

  it('leaves a path outside the home, the home itself, and a neighbour that only begins like it as they are', () => {
    expect(installRoot('/usr/bin/mitmdump', '/home/u')).to.equal('/usr/bin/mitmdump');
    expect(installRoot('/home/u', '/home/u')).to.equal('/home/u');
    expect(installRoot('/home/u2/a/b/bin/x', '/home/u')).to.equal('/home/u2/a/b/bin/x');
  });

  describe('scripts, links and their way', () => {
    const dir = tmpDir('moat-programs-');
    after(() => dir.remove());
    const bin = join(dir.path, 'bin');
    mkdirSync(bin);
    const script = (name: string, text: string) => {
      const path = join(dir.path, name);
      writeFileSync(path, text);
      chmodSync(path, 0o755);
      return path;
    };
    writeFileSync(join(bin, 'python3'), '');

    it('reads #!/path and #!/usr/bin/env NAME (options, their arguments and assignments skipped), NAME on PATH', () => {
      expect(interpreterOf(script('a', '#!/opt/py/bin/python3 -u\nprint(1)\n'), bin)).to.equal('/opt/py/bin/python3');
      expect(interpreterOf(script('b', '#!/usr/bin/env python3\n'), bin)).to.equal(join(bin, 'python3'));
      expect(interpreterOf(script('c', '#! /usr/bin/env -S LANG=C python3 -u\n'), bin)).to.equal(join(bin, 'python3'));
      expect(interpreterOf(script('c2', '#!/usr/bin/env -u HOME -C /tmp python3\n'), bin)).to.equal(
        join(bin, 'python3'),
      );
    });

    it('has none for a binary, a name not on PATH, an empty file, a missing one or a FIFO (not waited on)', () => {
      expect(interpreterOf(script('d', '\x7fELF\x02\x01'), bin)).to.equal(undefined);
      expect(interpreterOf(script('e', '#!/usr/bin/env nosuchinterpreter\n'), bin)).to.equal(undefined);
      expect(interpreterOf(script('f', ''), bin)).to.equal(undefined);
      expect(interpreterOf(join(dir.path, 'missing'), bin)).to.equal(undefined);
      const fifo = join(dir.path, 'fifo');
      execFileSync('mkfifo', [fifo]);
      expect(interpreterOf(fifo, bin)).to.equal(undefined);
    });

    it("the command's programs: the binary and a script's interpreter with their install, absolute words alone", () => {
      const hop = script('hop', '#!/usr/bin/env python3\n');
      expect(commandPrograms(hop, ['--port', '8080', '/etc/hop.yaml', 'relative.yaml'], bin)).to.deep.equal({
        exact: ['/etc/hop.yaml'],
        installed: [hop, join(bin, 'python3')],
      });
      const native = script('native', '\x7fELF\x02\x01');
      expect(commandPrograms(native, [], bin)).to.deep.equal({ exact: [], installed: [native] });
    });

    it('runs a script in the home by where it leads, a binary there as named (a venv python), any other as named', () => {
      const home = join(dir.path, 'home');
      mkdirSync(join(home, '.local', 'bin'), { recursive: true });
      const target = script('tool', '#!/bin/sh\n');
      symlinkSync(target, join(home, '.local', 'bin', 'tool'));
      const python = script('python', '\x7fELF\x02\x01');
      symlinkSync(python, join(home, '.local', 'bin', 'python'));
      expect(runnablePath(join(home, '.local', 'bin', 'tool'), home, bin)).to.equal(realpathSync(target));
      expect(runnablePath(join(home, '.local', 'bin', 'python'), home, bin)).to.equal(
        join(home, '.local', 'bin', 'python'),
      );
      expect(runnablePath('/usr/bin/env', home, bin)).to.equal('/usr/bin/env');
      expect(runnablePath(join(home, '.local', 'bin', 'tool'), '/', bin)).to.equal(join(home, '.local', 'bin', 'tool'));
    });

    it('runs a program in /run (NixOS: /run/current-system/sw/bin) by where it leads, script or binary', () => {
      const run = join(dir.path, 'run');
      mkdirSync(join(run, 'sw'), { recursive: true });
      const store = script('store-binary', '\x7fELF\x02\x01');
      symlinkSync(store, join(run, 'sw', 'tinyproxy'));
      expect(runnablePath(join(run, 'sw', 'tinyproxy'), '/home/u', bin, run)).to.equal(realpathSync(store));
      expect(runnablePath(join(run, 'sw', 'tinyproxy'), '/home/u', bin, join(dir.path, 'elsewhere'))).to.equal(
        join(run, 'sw', 'tinyproxy'),
      );
    });

    it('follows a path link by link to where realpath(3) leads, refusing it when any step is refused', () => {
      const way = join(dir.path, 'way');
      const refusedDir = join(way, 'hop');
      mkdirSync(join(way, 'real', 'deep'), { recursive: true });
      mkdirSync(refusedDir);
      writeFileSync(join(way, 'real', 'deep', 'file'), '');
      symlinkSync(join(way, 'real'), join(way, 'plain'));
      symlinkSync('../real', join(refusedDir, 'inside'));
      symlinkSync(join(refusedDir, 'inside'), join(way, 'through'));
      symlinkSync('loop', join(way, 'loop'));
      const refused = (p: string) => isInside(p, realpathSync(refusedDir));
      const deep = join('deep', 'file');
      expect(followedPath(join(way, 'plain', deep), refused)).to.equal(realpathSync(join(way, 'real', deep)));
      expect(followedPath(join(way, 'plain', '..', 'real', deep), refused)).to.equal(
        realpathSync(join(way, 'real', deep)),
      );
      // Leads to the same file, but by a link inside the refused directory.
      expect(realpathSync(join(way, 'through', deep))).to.equal(realpathSync(join(way, 'real', deep)));
      expect(followedPath(join(way, 'through', deep), refused)).to.equal(undefined);
      expect(followedPath(join(refusedDir, 'inside', deep), refused)).to.equal(undefined);
      expect(followedPath(join(way, 'loop'), refused)).to.equal(undefined);
      expect(followedPath(join(way, 'missing'), refused)).to.equal(undefined);
    });
  });
});
