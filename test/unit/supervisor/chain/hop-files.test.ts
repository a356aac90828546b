// A hop's files are written into a directory the hop itself can write (hop-files.ts): what it left there (a link, a
// second name of another file, a FIFO, a link in place of a directory on the way) must not make `up` write elsewhere.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHopFiles } from '../../../../supervisor/chain/hop-files';
import { tmpDir } from '../../../helpers/tmp';

describe("a hop's files, written where the hop left traps", () => {
  it('replaces a link, a second name and a FIFO by a file of its own, and a linked directory by a directory', () => {
    const dir = tmpDir('moat-hopfiles-');
    try {
      const hop = join(dir.path, 'hop');
      const victim = join(dir.path, 'profile');
      const victimDir = join(dir.path, 'elsewhere');
      mkdirSync(hop);
      mkdirSync(victimDir);
      writeFileSync(victim, 'unchanged');
      symlinkSync(victim, join(hop, 'linked.conf'));
      linkSync(victim, join(hop, 'second-name.conf'));
      execFileSync('mkfifo', [join(hop, 'fifo.conf')]);
      symlinkSync(victimDir, join(hop, 'conf'));
      writeHopFiles(hop, {
        'linked.conf': 'a',
        'second-name.conf': 'b',
        'fifo.conf': 'c',
        'conf/config.yaml': 'd',
        'fresh/new.conf': 'e',
      });
      expect(readFileSync(victim, 'utf8')).to.equal('unchanged');
      expect(readFileSync(join(hop, 'linked.conf'), 'utf8')).to.equal('a');
      expect(readFileSync(join(hop, 'second-name.conf'), 'utf8')).to.equal('b');
      expect(readFileSync(join(hop, 'fifo.conf'), 'utf8')).to.equal('c');
      expect(lstatSync(join(hop, 'conf')).isDirectory()).to.equal(true);
      expect(readFileSync(join(hop, 'conf', 'config.yaml'), 'utf8')).to.equal('d');
      expect(() => lstatSync(join(victimDir, 'config.yaml'))).to.throw(/ENOENT/);
      expect(readFileSync(join(hop, 'fresh', 'new.conf'), 'utf8')).to.equal('e');
      expect(lstatSync(join(hop, 'linked.conf')).mode & 0o777).to.equal(0o600);
      expect(() => writeHopFiles(hop, { '../out.conf': 'x' })).to.throw('must stay in its directory');
    } finally {
      dir.remove();
    }
  });
});
