// Runs statements on a ledger file directly, as anyone who can write the state directory could (the tamper tests).
import Database from 'better-sqlite3';

export function sql(file: string, statements: string): Promise<void> {
  const db = new Database(file, { timeout: 1000 });
  // Not defensive, as the sqlite3 shell an attacker would use: writable_schema may edit the schema.
  db.unsafeMode(true);
  try {
    db.exec(statements);
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err as Error);
  } finally {
    db.close();
  }
}
