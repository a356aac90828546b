// Checks a ledger's hash chain and signed checkpoints; pure over rows, so the same code
// verifies a live ledger.db and an exported bundle. Names the first bad row and what happened.
import { verify, createPublicKey } from 'node:crypto';
import { FILTER_COLUMNS, GENESIS, rowHash, type LedgerRow, type StoredRow } from './ledger';

export interface Checkpoint {
  seq: number;
  hash: string;
  time: string;
  signature: string;
}

/**
 * column: a row's copy of an event field (trace, host, …) is not the event's; bad_head: a head kept outside the
 * ledger does not verify or is no head; head_missing: the head file next to the ledger is gone; corrupt: the database
 * file fails SQLite's integrity check (an index that is not its table's, a damaged page).
 */
export type Tamper =
  | 'modified'
  | 'inserted'
  | 'deleted'
  | 'tail_cut'
  | 'bad_checkpoint'
  | 'column'
  | 'bad_head'
  | 'head_missing'
  | 'corrupt';

/** One head outside the ledger and what verify made of it. */
export interface HeadReport {
  /** ledger-head.json, or NATS key-value BUCKET/KEY. */
  source: string;
  /**
   * ok: the ledger holds it; absent: none there; unavailable: could not be read (why in note); bad: see the problem.
   */
  state: 'ok' | 'absent' | 'unavailable' | 'bad';
  seq?: number;
  note?: string;
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  checkpoints: number;
  /** Rows after the last checkpoint: chained, but not yet covered by a signature. */
  unsignedTail: number;
  problem?: { seq: number; kind: Tamper; detail: string };
  /** The heads outside the ledger that were consulted (absent when verifying rows alone, e.g. a bundle). */
  heads?: HeadReport[];
}

export function checkpointMessage(chain: string, seq: number, hash: string, time: string): Buffer {
  return Buffer.from(`moat-ledger-checkpoint\n${chain}\n${seq}\n${hash}\n${time}`);
}

/**
 * Checks the chain and the checkpoints; for rows read from the database (with their filter columns), also that each
 * column is its event's field, so no row can be hidden from a filtered reader by editing an unhashed copy.
 */
export function verifyLedger(
  chain: string,
  rows: LedgerRow[],
  checkpoints: Checkpoint[],
  publicKeyPem: string,
): VerifyResult {
  const result = (problem?: VerifyResult['problem']): VerifyResult => {
    const lastSigned = checkpoints.length ? checkpoints[checkpoints.length - 1].seq : 0;
    return {
      ok: !problem,
      rows: rows.length,
      checkpoints: checkpoints.length,
      unsignedTail: Math.max(0, rows.length - lastSigned),
      problem,
    };
  };
  let prevHash = GENESIS;
  let expected = 1;
  for (const row of rows) {
    if (row.seq > expected)
      return result({ seq: expected, kind: 'deleted', detail: `rows ${expected}..${row.seq - 1} are missing` });
    const computed = rowHash(row.prev_hash, row.seq, row.event);
    if (computed !== row.hash) {
      if (rowHash(row.prev_hash, row.seq - 1, row.event) === row.hash) {
        return result({
          seq: row.seq - 1,
          kind: 'inserted',
          detail: `row ${row.seq - 1} was inserted and the rows after it renumbered`,
        });
      }
      if (rowHash(row.prev_hash, row.seq + 1, row.event) === row.hash) {
        return result({
          seq: row.seq,
          kind: 'deleted',
          detail: `a row before ${row.seq + 1} was deleted and the rows after it renumbered`,
        });
      }
      return result({ seq: row.seq, kind: 'modified', detail: `row ${row.seq} does not match its hash` });
    }
    if (row.prev_hash !== prevHash) {
      return result({
        seq: row.seq - 1,
        kind: 'modified',
        detail: `row ${row.seq} does not chain to row ${row.seq - 1}: row ${row.seq - 1} was replaced or inserted`,
      });
    }
    prevHash = row.hash;
    expected++;
  }
  const key = createPublicKey(publicKeyPem);
  const bySeq = new Map(rows.map((r) => [r.seq, r]));
  for (const cp of checkpoints) {
    if (!verify(null, checkpointMessage(chain, cp.seq, cp.hash, cp.time), key, Buffer.from(cp.signature, 'base64'))) {
      return result({
        seq: cp.seq,
        kind: 'bad_checkpoint',
        detail: `the signature of checkpoint ${cp.seq} does not verify`,
      });
    }
    const row = bySeq.get(cp.seq);
    if (!row)
      return result({
        seq: rows.length + 1,
        kind: 'tail_cut',
        detail: `checkpoint ${cp.seq} signed rows the ledger no longer has (it ends at ${rows.length})`,
      });
    if (row.hash !== cp.hash)
      return result({
        seq: cp.seq,
        kind: 'modified',
        detail: `row ${cp.seq} differs from the signed checkpoint: the chain was rewritten`,
      });
  }
  // Last: a broken chain says more (a forged row's columns rarely agree with it either).
  for (const row of rows) {
    if (!('trace' in row)) break;
    const detail = columnMismatch(row as StoredRow);
    if (detail) return result({ seq: row.seq, kind: 'column', detail });
  }
  return result();
}

/** Why a row's unhashed columns (id and the filter columns) are not its event's, or undefined when they are. */
export function columnMismatch(row: StoredRow): string | undefined {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(row.event) ?? {};
  } catch {
    return `row ${row.seq}'s event is not JSON`;
  }
  if (event.id !== row.id) return `row ${row.seq}'s id column "${row.id}" is not its event's id "${String(event.id)}"`;
  for (const column of FILTER_COLUMNS) {
    const stored = row[column] ?? null;
    const hashed = event[column] ?? null;
    if (stored !== hashed)
      return (
        `row ${row.seq}'s ${column} column ${JSON.stringify(stored)} is not its event's ${column} ` +
        `${JSON.stringify(hashed)}`
      );
  }
  return undefined;
}
