// The ledger: one SQLite (WAL) row per event, hash-chained. Row n stores prev_hash (row n-1's
// hash) and hash = SHA-256(prev_hash, seq, event JSON as stored). Changing, inserting or deleting a
// row breaks the chain from there on; signed checkpoints of the head catch a rewritten tail, and
// the newest one kept outside the file (ledger/head.ts) a cut one. The columns trace, hop, host, …
// are copies of the event's fields for indexing, not hashed: verify checks them, and the readers
// filter on the event's own fields (json_extract), never on them.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, renameSync, rmSync } from 'node:fs';
import type { MoatEvent } from '../../schemas/generated/event';
import { canonicalJson } from './canonical-json';

export const GENESIS = '0'.repeat(64);
const COLUMNS = [
  'seq',
  'id',
  'trace',
  'hop',
  'boundary',
  'direction',
  'time',
  'host',
  'event',
  'prev_hash',
  'hash',
] as const;
const ROWS_PER_STATEMENT = 500; // 11 columns x 500 stays under SQLite's 32766 variables

const SCHEMA = `
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = NORMAL;
  CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, trace TEXT NOT NULL, hop INTEGER NOT NULL,
    boundary INTEGER NOT NULL, direction TEXT NOT NULL, time TEXT NOT NULL, host TEXT,
    event TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS events_trace ON events(trace);
  CREATE INDEX IF NOT EXISTS events_hop ON events(hop);
  CREATE INDEX IF NOT EXISTS events_event_trace ON events(json_extract(event, '$.trace'));
  CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, time TEXT NOT NULL, signature TEXT NOT NULL);`;

/**
 * A new ledger file appears whole: its tables are made under a name of this process's own, and the file is then linked
 * into place (not over one that appeared meanwhile, where the file system has hard links). The readers (`moat chain
 * events`, verify, the dashboard) may look while the chain's writer or `moat ledger serve` makes it: one that finds the
 * file finds its tables.
 */
function createLedgerFile(file: string): void {
  const temp = `${file}.new-${process.pid}`;
  const leftovers = [temp, `${temp}-wal`, `${temp}-shm`];
  for (const f of leftovers) rmSync(f, { force: true });
  // A WAL without its database (a ledger moved aside after a crash) would be replayed into the new file: its old rows.
  // No one else writes it: a ledger file has one writer (its chain's, or the serve that holds DIR's lock).
  for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  try {
    const db = new Database(temp);
    try {
      db.exec(SCHEMA);
    } finally {
      db.close();
    }
    try {
      linkSync(temp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return; // another writer made it first: theirs stands
      // A file system without hard links: renamed instead, which only a file made in between would lose to.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
      if (!existsSync(file)) renameSync(temp, file);
    }
  } finally {
    for (const f of leftovers) rmSync(f, { force: true });
  }
}

export function rowHash(prevHash: string, seq: number, eventJson: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${eventJson}`).digest('hex');
}

export interface LedgerRow {
  seq: number;
  id: string;
  event: string;
  prev_hash: string;
  hash: string;
}

/** The columns besides the hashed event that readers could filter on: copies of its fields, not covered by the hash. */
export const FILTER_COLUMNS = ['trace', 'hop', 'boundary', 'direction', 'time', 'host'] as const;

/** A row as the database holds it: with those copies, which verify checks against the event. */
export interface StoredRow extends LedgerRow {
  trace: string;
  hop: number;
  boundary: number;
  direction: string;
  time: string;
  host: string | null;
}

export class Ledger {
  private constructor(private readonly db: Database.Database) {}
  private head = { seq: 0, hash: GENESIS };
  /** Prepared statements by their SQL (the few the writer repeats; bounded, as readers build theirs per query). */
  private readonly statements = new Map<string, Database.Statement>();

  static async open(file: string, readonly = false): Promise<Ledger> {
    // better-sqlite3 runs each statement in this thread, without copying every bound value for a worker as sqlite3
    // did: the ledger writer's CPU per event about halved (docs/benchmarks.md). A busy database is waited for up to
    // 1 s, as sqlite3 did.
    if (!readonly && !existsSync(file)) createLedgerFile(file);
    const db = new Database(file, { readonly, fileMustExist: readonly, timeout: 1000 });
    const ledger = new Ledger(db);
    try {
      if (!readonly) await ledger.exec(SCHEMA); // an older file gains what is new in it
      const last = await ledger.get<{ seq: number; hash: string }>(
        'SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1',
      );
      if (last) ledger.head = { seq: last.seq, hash: last.hash };
    } catch (err) {
      db.close(); // not a ledger (or not one yet): nothing is kept open
      throw err;
    }
    return ledger;
  }

  get headSeq(): number {
    return this.head.seq;
  }

  get headHash(): string {
    return this.head.hash;
  }

  /**
   * Appends the events not stored yet (a redelivered id is skipped), in one transaction. Returns how many were new.
   * `texts[i]`, when given, is events[i] as JSON exactly as it was published: stored and hashed as is, which saves
   * the writer re-serialising every event (a redelivery carries the same bytes, so the row is the same either way).
   */
  async append(events: MoatEvent[], texts?: string[]): Promise<number> {
    return (await this.appendFresh(events, texts)).length;
  }

  /** Appends the events whose id the ledger does not hold yet, and returns them (a redelivery returns none). */
  async appendFresh(events: MoatEvent[], texts?: string[]): Promise<MoatEvent[]> {
    const textOf = new Map<MoatEvent, string>();
    if (texts) events.forEach((e, i) => textOf.set(e, texts[i]));
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    if (unique.length === 0) return [];
    const known = new Set<string>();
    for (let i = 0; i < unique.length; i += ROWS_PER_STATEMENT) {
      const ids = unique.slice(i, i + ROWS_PER_STATEMENT).map((e) => e.id);
      const rows = await this.all<{ id: string }>(
        `SELECT id FROM events WHERE id IN (${ids.map(() => '?').join(',')})`,
        ids,
      );
      rows.forEach((r) => known.add(r.id));
    }
    const fresh = unique.filter((e) => !known.has(e.id));
    if (fresh.length === 0) return [];
    let { seq, hash } = this.head;
    const rows = fresh.map((e) => {
      const json = textOf.get(e) ?? canonicalJson(e);
      seq += 1;
      const prev = hash;
      hash = rowHash(prev, seq, json);
      return [seq, e.id, e.trace, e.hop, e.boundary, e.direction, e.time, e.host ?? null, json, prev, hash];
    });
    await this.exec('BEGIN');
    try {
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
        const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
        const placeholders = chunk.map(() => `(${COLUMNS.map(() => '?').join(',')})`).join(',');
        await this.run(`INSERT INTO events (${COLUMNS.join(',')}) VALUES ${placeholders}`, chunk.flat());
      }
      await this.exec('COMMIT');
    } catch (err) {
      await this.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
    this.head = { seq, hash };
    return fresh;
  }

  async addCheckpoint(seq: number, hash: string, time: string, signature: string): Promise<void> {
    await this.run('INSERT OR REPLACE INTO checkpoints (seq, hash, time, signature) VALUES (?,?,?,?)', [
      seq,
      hash,
      time,
      signature,
    ]);
  }

  checkpoints(): Promise<{ seq: number; hash: string; time: string; signature: string }[]> {
    return this.all('SELECT seq, hash, time, signature FROM checkpoints ORDER BY seq');
  }

  /** The rows `where` selects, oldest first, every column. */
  rows(where = '', params: unknown[] = []): Promise<StoredRow[]> {
    return this.all(
      `SELECT seq, id, event, prev_hash, hash, ${FILTER_COLUMNS.join(', ')} FROM events ${where} ORDER BY seq`,
      params,
    );
  }

  /**
   * The event JSON of the rows `where` selects, oldest first, with top-level fields in `omit` left out by SQLite
   * (the dashboard reads thousands of events at start and has no use for their bodies there).
   */
  eventTexts(where = '', params: unknown[] = [], omit: readonly string[] = []): Promise<string[]> {
    if (omit.some((f) => !/^[a-z_]+$/.test(f))) throw new Error(`not a field name: ${omit.join(', ')}`);
    const column = omit.length ? `json_remove(event, ${omit.map((f) => `'$.${f}'`).join(', ')})` : 'event';
    return this.all<{ e: string }>(`SELECT ${column} AS e FROM events ${where} ORDER BY seq`, params).then((rows) =>
      rows.map((r) => r.e),
    );
  }

  /**
   * What SQLite's integrity check finds ([] when nothing): among others, an index whose entries are not its table's
   * (the readers look traces up through an index on the event's own trace, which a hand-edited file could falsify).
   */
  integrityProblems(): Promise<string[]> {
    return this.all<{ integrity_check: string }>('PRAGMA integrity_check').then((rows) =>
      rows.map((r) => r.integrity_check).filter((t) => t !== 'ok'),
    );
  }

  /** The stored hash of row `seq`, undefined when there is no such row. */
  hashAt(seq: number): Promise<string | undefined> {
    return this.get<{ hash: string }>('SELECT hash FROM events WHERE seq = ?', [seq]).then((r) => r?.hash);
  }

  /** The seq of the last row (0 when empty): a lookup, cheap enough to poll. */
  lastSeq(): Promise<number> {
    return this.get<{ n: number | null }>('SELECT MAX(seq) AS n FROM events').then((r) => r?.n ?? 0);
  }

  count(): Promise<number> {
    return this.get<{ n: number }>('SELECT COUNT(*) AS n FROM events').then((r) => r?.n ?? 0);
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }

  // The statements run synchronously; the methods stay promises, so a failure reaches callers as a rejection.
  private exec(sql: string): Promise<void> {
    return attempt(() => {
      this.db.exec(sql);
    });
  }

  private run(sql: string, params: unknown[]): Promise<void> {
    return attempt(() => {
      this.statement(sql).run(params);
    });
  }

  private get<T>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return attempt(() => this.statement(sql).get(params) as T | undefined);
  }

  private all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return attempt(() => this.statement(sql).all(params) as T[]);
  }

  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      if (this.statements.size >= MAX_STATEMENTS) this.statements.clear();
      prepared = this.db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }
}

const MAX_STATEMENTS = 64;

function attempt<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}
