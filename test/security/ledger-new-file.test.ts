// A new ledger is made under a name of the writer's own (`<ledger>.new-<pid>`) and then linked into place
// (supervisor/ledger/ledger.ts). A ledger planted under that name, with rows and a hash chain of its maker's own, must
// not become the chain's history, over which the writer would then sign checkpoints. (An agent that can write there
// could as well plant the ledger file itself before the first `up`: this closes the new path, not that one.)
import { expect } from 'chai';
import { existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../../supervisor/ledger/ledger';
import { tmpDir } from '../helpers/tmp';
import { testEvent } from '../helpers/signed-ledger';

describe('security: a ledger planted where a new one is made is not taken', () => {
  const dir = tmpDir('moat-ledger-plant-');
  after(() => dir.remove());

  it('a planted database under the temporary name: the new ledger starts empty', async () => {
    // The attacker's ledger, made as the product makes one, with forged history.
    const forged = await Ledger.open(join(dir.path, 'forged.db'));
    await forged.append([testEvent('c', 1), testEvent('c', 2), testEvent('c', 3)]);
    await forged.close();
    const file = join(dir.path, 'ledger.db');
    // Planted under the name this process would make the new ledger under.
    symlinkSync(join(dir.path, 'forged.db'), `${file}.new-${process.pid}`);

    const ledger = await Ledger.open(file);
    try {
      expect(await ledger.count()).to.equal(0);
      expect(ledger.headSeq).to.equal(0);
    } finally {
      await ledger.close();
    }
    // The forged file is untouched, and nothing is left under the temporary name.
    const again = await Ledger.open(join(dir.path, 'forged.db'), true);
    expect(await again.count()).to.equal(3);
    await again.close();
    expect(readdirSync(dir.path).filter((f) => f.includes('.new-'))).to.deep.equal([]);
  });

  it('a planted file of any other content under that name: made anew, the ledger works', async () => {
    const file = join(dir.path, 'second.db');
    writeFileSync(`${file}.new-${process.pid}`, 'not a database\n');
    writeFileSync(`${file}.new-${process.pid}-wal`, 'not a WAL either\n');
    const ledger = await Ledger.open(file);
    try {
      await ledger.append([testEvent('c', 1)]);
      expect(await ledger.count()).to.equal(1);
    } finally {
      await ledger.close();
    }
    expect(existsSync(`${file}.new-${process.pid}`)).to.equal(false);
    expect(existsSync(`${file}.new-${process.pid}-wal`)).to.equal(false);
  });
});
