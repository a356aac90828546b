// Checks a ledger's hash chain and signed checkpoints; pure over rows, so the same code
// verifies a live ledger.db and an exported bundle. Names the first bad row and what happened.
import { verify, createPublicKey } from 'node:crypto';
import { GENESIS, rowHash, type LedgerRow } from './ledger';

export interface Checkpoint {
  seq: number;
  hash: string;
  time: string;
  signature: string;
}

export type Tamper = 'modified' | 'inserted' | 'deleted' | 'tail_cut' | 'bad_checkpoint';

export interface VerifyResult {
  ok: boolean;
  rows: number;
  checkpoints: number;
  /** Rows after the last checkpoint: chained, but not yet covered by a signature. */
  unsignedTail: number;
  problem?: { seq: number; kind: Tamper; detail: string };
}

export function checkpointMessage(chain: string, seq: number, hash: string, time: string): Buffer {
  return Buffer.from(`moat-ledger-checkpoint\n${chain}\n${seq}\n${hash}\n${time}`);
}

export function verifyLedger(chain: string, rows: LedgerRow[], checkpoints: Checkpoint[], publicKeyPem: string): VerifyResult {
  const result = (problem?: VerifyResult['problem']): VerifyResult => {
    const lastSigned = checkpoints.length ? checkpoints[checkpoints.length - 1].seq : 0;
    return { ok: !problem, rows: rows.length, checkpoints: checkpoints.length, unsignedTail: Math.max(0, rows.length - lastSigned), problem };
  };
  let prevHash = GENESIS;
  let expected = 1;
  for (const row of rows) {
    if (row.seq > expected) return result({ seq: expected, kind: 'deleted', detail: `rows ${expected}..${row.seq - 1} are missing` });
    const computed = rowHash(row.prev_hash, row.seq, row.event);
    if (computed !== row.hash) {
      if (rowHash(row.prev_hash, row.seq - 1, row.event) === row.hash) {
        return result({ seq: row.seq - 1, kind: 'inserted', detail: `row ${row.seq - 1} was inserted and the rows after it renumbered` });
      }
      if (rowHash(row.prev_hash, row.seq + 1, row.event) === row.hash) {
        return result({ seq: row.seq, kind: 'deleted', detail: `a row before ${row.seq + 1} was deleted and the rows after it renumbered` });
      }
      return result({ seq: row.seq, kind: 'modified', detail: `row ${row.seq} does not match its hash` });
    }
    if (row.prev_hash !== prevHash) {
      return result({ seq: row.seq - 1, kind: 'modified', detail: `row ${row.seq} does not chain to row ${row.seq - 1}: row ${row.seq - 1} was replaced or inserted` });
    }
    prevHash = row.hash;
    expected++;
  }
  const key = createPublicKey(publicKeyPem);
  const bySeq = new Map(rows.map((r) => [r.seq, r]));
  for (const cp of checkpoints) {
    if (!verify(null, checkpointMessage(chain, cp.seq, cp.hash, cp.time), key, Buffer.from(cp.signature, 'base64'))) {
      return result({ seq: cp.seq, kind: 'bad_checkpoint', detail: `the signature of checkpoint ${cp.seq} does not verify` });
    }
    const row = bySeq.get(cp.seq);
    if (!row) return result({ seq: rows.length + 1, kind: 'tail_cut', detail: `checkpoint ${cp.seq} signed rows the ledger no longer has (it ends at ${rows.length})` });
    if (row.hash !== cp.hash) return result({ seq: cp.seq, kind: 'modified', detail: `row ${cp.seq} differs from the signed checkpoint: the chain was rewritten` });
  }
  return result();
}
