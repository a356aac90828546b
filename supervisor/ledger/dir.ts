// The directory `moat ledger serve --dir DIR` owns: one subdirectory per chain with its ledger and
// the key that signs it, the id that names serve's durable consumers, and a lock so that no two
// serves write the same ledgers.
//   DIR/serve-id                  8 random bytes in hex, made on first use
//   DIR/serve-lock.db             held (an exclusive SQLite transaction) by the serve running on DIR
//   DIR/serve.pid                 that serve's pid, for the message that refuses a second one
//   DIR/<chain>/ledger.db         as <state>/ledger.db of a chain
//   DIR/<chain>/ledger-key.pem    (0600) and ledger-key.pub.pem, next to it as for a local ledger
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MoatError } from '../errors';
import { isHeldElsewhere, takeFileLock, type FileLock } from '../file-lock';
import { isAlive } from '../../hops/runtime/chain-processes';

/** A chain name as moat.yaml allows it (schemas/chain-config.schema.json, name): safe as a directory name. */
export const CHAIN_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function centralLedgerFile(dir: string, chain: string): string {
  if (!CHAIN_NAME.test(chain))
    throw new MoatError(
      'MOAT_ERR_USAGE',
      `"${chain}" is not a chain name (lowercase letters, digits and -, at most 32)`,
    );
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
  if (!/^[0-9a-f]{16}$/.test(id))
    throw new MoatError('MOAT_ERR_USAGE', `${file}: not a serve id (16 hex digits); remove it to make a new one`);
  return id;
}

/**
 * Takes DIR for this process; returns the release. The lock (supervisor/file-lock.ts) is on DIR/serve-lock.db, held
 * for as long as serve runs and gone with its process: two serves started at the same instant cannot both win (the
 * pid file this replaced had that window). DIR/serve.pid only names the holder.
 */
export async function lockLedgerDir(dir: string): Promise<() => Promise<void>> {
  const lockFile = join(dir, 'serve-lock.db');
  const pidFile = join(dir, 'serve.pid');
  let lock: FileLock;
  try {
    lock = takeFileLock(lockFile, 0); // held by another serve: said at once, not waited for
  } catch (err) {
    if (!isHeldElsewhere(err)) {
      throw new MoatError('MOAT_ERR_LEDGER_DIR_LOCK', `${dir}: cannot lock ${lockFile}: ${(err as Error).message}`);
    }
    // The holder writes its pid just after taking the lock: a file left by a dead serve names nobody.
    const named = readHolder(pidFile);
    const holder = named !== undefined && isAlive(named) ? named : undefined;
    throw new MoatError(
      'MOAT_ERR_LEDGER_DIR_BUSY',
      `${dir}: another \`moat ledger serve\`${holder ? ` (pid ${holder})` : ''} writes these ledgers; stop ` +
        `it, or give this one another --dir`,
    );
  }
  try {
    writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  } catch (err) {
    lock.release();
    throw new MoatError('MOAT_ERR_LEDGER_DIR_LOCK', `${dir}: cannot write ${pidFile}: ${(err as Error).message}`);
  }
  return () => {
    if (readHolder(pidFile) === process.pid) rmSync(pidFile, { force: true });
    lock.release();
    return Promise.resolve();
  };
}

function readHolder(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function ensureLedgerDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
