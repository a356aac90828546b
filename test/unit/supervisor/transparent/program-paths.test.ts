// What an isolated hop keeps of the user's home to run (program-paths.ts): the directory of the home its program
// lies in, and the interpreter a script's first line asks for.
import { expect } from 'chai';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandPrograms, interpreterOf, programRoot } from '../../../../supervisor/transparent/program-paths';
import { tmpDir } from '../../../helpers/tmp';

describe('isolated hops: what of the home their programs need', () => {
  it('keeps the directory of the home a program lies in, or its node_modules, or a file right in the home', () => {
    expect(programRoot('/home/u/.nvm/versions/node/v20/bin/node', '/home/u')).to.equal('/home/u/.nvm');
    expect(programRoot('/home/u/.local/bin/headroom', '/home/u')).to.equal('/home/u/.local');
    expect(programRoot('/home/u/proj/node_modules/.bin/ccr', '/home/u')).to.equal('/home/u/proj/node_modules');
    expect(programRoot('/home/u/proj/node_modules/a/node_modules/b/x.js', '/home/u')).to.equal(
      '/home/u/proj/node_modules',
    );
    expect(programRoot('/home/u/hop.py', '/home/u')).to.equal('/home/u/hop.py');
  });

  it('leaves a path outside the home, the home itself, and a neighbour that only begins like it as they are', () => {
    expect(programRoot('/usr/bin/mitmdump', '/home/u')).to.equal('/usr/bin/mitmdump');
    expect(programRoot('/home/u', '/home/u')).to.equal('/home/u');
    expect(programRoot('/home/u2/bin/x', '/home/u')).to.equal('/home/u2/bin/x');
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

    it("the command's programs: the binary, its interpreter, and the absolute paths among its words", () => {
      const hop = script('hop', '#!/usr/bin/env python3\n');
      expect(commandPrograms(hop, ['--port', '8080', '/etc/hop.yaml', 'relative.yaml'], bin)).to.deep.equal([
        hop,
        join(bin, 'python3'),
        '/etc/hop.yaml',
      ]);
    });
  });
});
