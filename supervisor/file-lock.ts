// A lock between moat's own commands: an exclusive SQLite transaction on a file of its own. It is the kernel's lock
// (fcntl), gone the moment its process ends in any way (kill -9 too), so nothing stale is ever left to take over, and
// two processes asking at the same instant cannot both win.
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface FileLock {
  release(): void;
}

/**
 * Takes the lock on `file` (made 0600 when new), waiting up to `waitMs` for another holder; throws otherwise
 * (isHeldElsewhere tells that failure from the others).
 */
export function takeFileLock(file: string, waitMs: number): FileLock {
  // Made only when new: closing a descriptor of a file drops every fcntl lock this process holds on it.
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const db = new Database(file, { timeout: waitMs });
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    release: () => {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}

/** takeFileLock's failure when another process held the lock for longer than the wait. */
export function isHeldElsewhere(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_BUSY';
}
