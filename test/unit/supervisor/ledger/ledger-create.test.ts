// A new ledger file appears with its tables (supervisor/ledger/ledger.ts): a reader that finds the file (the dashboard,
// `moat chain events`, verify) opens it and counts, never meeting "no such table". CI once saw that error: a reader
// opened the file `moat ledger serve` had just made, before its tables were in.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../../../../supervisor/ledger/ledger';
import { REPO_ROOT } from '../../../helpers/repo-root';
import { tmpDir } from '../../../helpers/tmp';
import { testEvent } from '../../../helpers/signed-ledger';

const LEDGERS = 20;

/**
 * A reader in a process of its own: polls for ledger-1.db to ledger-N.db in turn and, as soon as one is there, opens it
 * read-only and counts its rows once. Prints every error it met (a file it never saw is one too).
 */
const READER = `
const Database = require('better-sqlite3');
const { existsSync } = require('node:fs');
const [dir, n] = [process.argv[1], Number(process.argv[2])];
const errors = [];
for (let i = 1; i <= n; i++) {
  const file = dir + '/ledger-' + i + '.db';
  const deadline = Date.now() + 10000;
  for (;;) {
    if (Date.now() > deadline) { errors.push('never saw ' + file); break; }
    if (!existsSync(file)) continue;
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try { db.prepare('SELECT COUNT(*) AS n FROM events').get(); break; } finally { db.close(); }
    } catch (err) { errors.push(err.message); break; }
  }
}
console.log(JSON.stringify({ errors }));
`;

describe('ledger: a new ledger file appears whole', () => {
  const dir = tmpDir('moat-ledger-create-');
  after(() => dir.remove());

  it('a reader polling for new ledgers always finds their tables', async function () {
    this.timeout(60_000);
    const reader = spawn(process.execPath, ['-e', READER, dir.path, String(LEDGERS)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d));
    const done = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    try {
      await new Promise((r) => setTimeout(r, 200)); // the reader is polling before the first ledger is made
      for (let i = 1; i <= LEDGERS; i++) {
        const ledger = await Ledger.open(join(dir.path, `ledger-${i}.db`));
        await ledger.close();
        await new Promise((r) => setTimeout(r, 20));
      }
      await done;
    } finally {
      reader.kill();
    }
    expect(out, 'the reader printed its result').to.match(/^\{/);
    expect((JSON.parse(out) as { errors: string[] }).errors).to.deep.equal([]);
    // Nothing is left of the names the files were made under.
    expect(readdirSync(dir.path).filter((f) => f.includes('.new-'))).to.deep.equal([]);
  });

  it('opens a ledger that exists as it is, rows and all', async () => {
    const file = join(dir.path, 'kept.db');
    const first = await Ledger.open(file);
    await first.append([testEvent('c', 1), testEvent('c', 2)]);
    await first.close();
    const again = await Ledger.open(file);
    try {
      expect(await again.count()).to.equal(2);
      expect(again.headSeq).to.equal(2);
    } finally {
      await again.close();
    }
  });

  it('takes nothing from a WAL left without its database (a ledger moved aside after a crash)', async () => {
    const file = join(dir.path, 'moved.db');
    const old = await Ledger.open(file);
    await old.append([testEvent('c', 1), testEvent('c', 2), testEvent('c', 3)]);
    // The rows are still in the WAL (not yet checkpointed), as when a writer is killed: keep a copy of it.
    const wal = readFileSync(`${file}-wal`);
    expect(wal.length, 'the rows are in the WAL').to.be.greaterThan(0);
    await old.close();
    renameSync(file, join(dir.path, 'moved-aside.db'));
    writeFileSync(`${file}-wal`, wal);

    const fresh = await Ledger.open(file);
    try {
      expect(await fresh.count()).to.equal(0);
      expect(fresh.headSeq).to.equal(0);
    } finally {
      await fresh.close();
    }
  });

  it('does not replace a file that is there but not a ledger: opening it fails and leaves it as it was', async () => {
    const file = join(dir.path, 'not-a-ledger.db');
    const content = 'some other file\n'.repeat(100);
    writeFileSync(file, content);
    const err = await Ledger.open(file).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/not a database/);
    expect(readdirSync(dir.path).filter((f) => f.startsWith('not-a-ledger'))).to.deep.equal(['not-a-ledger.db']);
    expect(readFileSync(file, 'utf8')).to.equal(content);
  });
});
