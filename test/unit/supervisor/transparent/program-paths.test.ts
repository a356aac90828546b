// What an isolated hop keeps of the user's home to run (program-paths.ts): a script's and its interpreter's install,
// a binary alone, and the path its command runs.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  commandPrograms,
  installRoot,
  interpreterOf,
  runnablePath,
} from '../../../../supervisor/transparent/program-paths';
import { tmpDir } from '../../../helpers/tmp';

describe('isolated hops: what of the home their programs need', () => {
  it("keeps a script's or an interpreter's install: its node_modules, the directory above its bin, a shims' root", () => {
    expect(installRoot('/home/u/.nvm/versions/node/v20/bin/node', '/home/u')).to.equal(
      '/home/u/.nvm/versions/node/v20',
    );
    expect(installRoot('/home/u/.local/share/pipx/venvs/mitmproxy/bin/mitmdump', '/home/u')).to.equal(
      '/home/u/.local/share/pipx/venvs/mitmproxy',
    );
    expect(installRoot('/home/u/proj/.venv/bin/python', '/home/u')).to.equal('/home/u/proj/.venv');
    expect(installRoot('/home/u/.pyenv/shims/python3', '/home/u')).to.equal('/home/u/.pyenv');
    expect(installRoot('/home/u/.npm-global/lib/node_modules/@x/ccr/dist/cli.js', '/home/u')).to.equal(
      '/home/u/.npm-global/lib/node_modules',
    );
    expect(installRoot('/home/u/proj/node_modules/a/node_modules/b/x.js', '/home/u')).to.equal(
      '/home/u/proj/node_modules',
    );
  });

  it('keeps the file alone in a bin right under a directory of the home, elsewhere in it, and right in it', () => {
    // ~/.local and ~/.cargo hold keyrings, credentials and histories beside their bin.
    expect(installRoot('/home/u/.local/bin/headroom', '/home/u')).to.equal('/home/u/.local/bin/headroom');
    expect(installRoot('/home/u/.cargo/bin/tool', '/home/u')).to.equal('/home/u/.cargo/bin/tool');
    expect(installRoot('/home/u/code/proj/hop.py', '/home/u')).to.equal('/home/u/code/proj/hop.py');
    expect(installRoot('/home/u/hop.py', '/home/u')).to.equal('/home/u/hop.py');
  });

  it('leaves a path outside the home, the home itself, and a neighbour that only begins like it as they are', () => {
    expect(installRoot('/usr/bin/mitmdump', '/home/u')).to.equal('/usr/bin/mitmdump');
    expect(installRoot('/home/u', '/home/u')).to.equal('/home/u');
    expect(installRoot('/home/u2/a/b/bin/x', '/home/u')).to.equal('/home/u2/a/b/bin/x');
  });

  describe('a script and its interpreter', () => {
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

    it('reads #!/path and #!/usr/bin/env NAME (options and assignments skipped), the name found on PATH', () => {
      expect(interpreterOf(script('a', '#!/opt/py/bin/python3 -u\nprint(1)\n'), bin)).to.equal('/opt/py/bin/python3');
      expect(interpreterOf(script('b', '#!/usr/bin/env python3\n'), bin)).to.equal(join(bin, 'python3'));
      expect(interpreterOf(script('c', '#! /usr/bin/env -S LANG=C python3 -u\n'), bin)).to.equal(join(bin, 'python3'));
    });

    it('has none for a binary, a name not on PATH, an empty file or a missing one', () => {
      expect(interpreterOf(script('d', '\x7fELF\x02\x01'), bin)).to.equal(undefined);
      expect(interpreterOf(script('e', '#!/usr/bin/env nosuchinterpreter\n'), bin)).to.equal(undefined);
      expect(interpreterOf(script('f', ''), bin)).to.equal(undefined);
      expect(interpreterOf(join(dir.path, 'missing'), bin)).to.equal(undefined);
    });

    it("the command's programs: a script with its interpreter, a binary alone, and the absolute paths of its words", () => {
      const hop = script('hop', '#!/usr/bin/env python3\n');
      expect(commandPrograms(hop, ['--port', '8080', '/etc/hop.yaml', 'relative.yaml'], bin)).to.deep.equal({
        exact: ['/etc/hop.yaml'],
        installed: [hop, join(bin, 'python3')],
      });
      const native = script('native', '\x7fELF\x02\x01');
      expect(commandPrograms(native, ['/etc/hop.yaml'], bin)).to.deep.equal({
        exact: [native, '/etc/hop.yaml'],
        installed: [],
      });
    });

    it("a FIFO in the binary's place is no script, and reading it does not wait for a writer", () => {
      const fifo = join(dir.path, 'fifo');
      execFileSync('mkfifo', [fifo]);
      expect(interpreterOf(fifo, bin)).to.equal(undefined);
    });

    it('runs a binary in the home by where it leads (a link there is under the cover), any other as named', () => {
      const home = join(dir.path, 'home');
      mkdirSync(join(home, '.local', 'bin'), { recursive: true });
      const target = script('tool', '#!/bin/sh\n');
      symlinkSync(target, join(home, '.local', 'bin', 'tool'));
      expect(runnablePath(join(home, '.local', 'bin', 'tool'), home)).to.equal(realpathSync(target));
      expect(runnablePath('/usr/bin/env', home)).to.equal('/usr/bin/env');
      expect(runnablePath(join(home, '.local', 'bin', 'tool'), '/')).to.equal(join(home, '.local', 'bin', 'tool'));
    });
  });
});
