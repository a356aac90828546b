// The directory `moat ledger serve --dir DIR` owns: one subdirectory per chain with its ledger and
// the key that signs it, the id that names serve's durable consumers, and a lock so that no two
// serves write the same ledgers.
//   DIR/serve-id                  8 random bytes in hex, made on first use
//   DIR/serve.lock                the pid of the serve running on DIR
//   DIR/<chain>/ledger.db         as <state>/ledger.db of a chain
//   DIR/<chain>/ledger-key.pem    (0600) and ledger-key.pub.pem, next to it as for a local ledger
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MoatError } from './errors';
import { isAlive } from './chain-processes';

/** A chain name as moat.yaml allows it (schemas/chain-config.schema.json, name): safe as a directory name. */
export const CHAIN_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function centralLedgerFile(dir: string, chain: string): string {
  if (!CHAIN_NAME.test(chain)) throw new MoatError('MOAT_ERR_USAGE', `"${chain}" is not a chain name (lowercase letters, digits and -, at most 32)`);
  return join(dir, chain, 'ledger.db');
}

/** The chains with a ledger in DIR, sorted. */
export function chainsInDir(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => CHAIN_NAME.test(name) && existsSync(join(dir, name, 'ledger.db')))
    .sort();
}

/** DIR's id, made on first use: it names serve's durable consumers, so another DIR never shares them. */
export function ledgerDirId(dir: string): string {
  const file = join(dir, 'serve-id');
  if (!existsSync(file)) writeFileSync(file, randomBytes(8).toString('hex') + '\n', { mode: 0o644, flag: 'wx' });
  const id = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{16}$/.test(id)) throw new MoatError('MOAT_ERR_USAGE', `${file}: not a serve id (16 hex digits); remove it to make a new one`);
  return id;
}

/** Takes DIR for this process; a lock left by a serve that died (kill -9) is taken over. Returns the release. */
export function lockLedgerDir(dir: string, pid: number = process.pid): () => void {
  const file = join(dir, 'serve.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${pid}\n`, { flag: 'wx', mode: 0o644 });
      return () => {
        if (readFileSync(file, 'utf8').trim() === String(pid)) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== pid && isAlive(holder)) {
        throw new MoatError('MOAT_ERR_LEDGER_DIR_BUSY', `${dir}: another \`moat ledger serve\` (pid ${holder}) writes these ledgers; stop it, or give this one another --dir`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new MoatError('MOAT_ERR_LEDGER_DIR_BUSY', `${dir}: could not take ${file}`);
}

export function ensureLedgerDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
