// The ledger's newest signed head, kept outside the ledger file as well: signed checkpoints live in
// the same SQLite file as the rows, so deleting the tail rows together with their checkpoints left a
// shorter ledger that verified. The writer therefore also writes its newest checkpoint (seq, hash,
// time, signature) to a file next to the ledger (`ledger-head.json`, 0600) and to a NATS key-value
// bucket (ledger/head-kv.ts), and `verify` checks that the ledger still holds that head.
//
// Pure but for the file's read and atomic write: the comparison is checkHead below.
import { readFileSync } from 'node:fs';
import { createPublicKey, verify } from 'node:crypto';
import { writeFileAtomic } from '../../hops/runtime/atomic-write';
import { checkpointMessage, type Checkpoint, type HeadReport, type VerifyResult } from './verify';
import type { LedgerRow } from './ledger';

/** A signed head: the newest checkpoint, as the checkpoints table holds it. */
export type SignedHead = Checkpoint;

/** Where a head was read from, for messages: `ledger-head.json`, `NATS key-value MOAT_x_heads/ledger`. */
export type HeadSource = string;

/** The head file of a ledger: `<ledger>-head.json` next to `<ledger>.db` (as keyFiles names the key). */
export function headFile(dbFile: string): string {
  return dbFile.replace(/\.db$/, '') + '-head.json';
}

export function isSignedHead(v: unknown): v is SignedHead {
  const h = v as Record<string, unknown> | null;
  return (
    !!h &&
    typeof h === 'object' &&
    Number.isSafeInteger(h.seq) &&
    (h.seq as number) >= 1 &&
    typeof h.hash === 'string' &&
    /^[0-9a-f]{64}$/.test(h.hash) &&
    typeof h.time === 'string' &&
    typeof h.signature === 'string'
  );
}

/** The head as stored (one JSON line; only the four fields). */
export function headText(h: SignedHead): string {
  return JSON.stringify({ seq: h.seq, hash: h.hash, time: h.time, signature: h.signature }) + '\n';
}

/** What a head file or key holds: a head, nothing, or something that is not a head (itself a finding). */
export type HeadRead = { head: SignedHead } | { absent: true } | { invalid: string };

export function parseHead(text: string): HeadRead {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { invalid: 'not JSON' };
  }
  return isSignedHead(v) ? { head: v } : { invalid: 'not a signed head (seq, hash, time, signature)' };
}

export function readHeadFile(file: string): HeadRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { absent: true };
    return { invalid: `cannot read: ${(err as Error).message}` };
  }
  return parseHead(text);
}

/** Replaces the head file whole (a crash leaves the old head or the new one, never half of one), 0600. */
export function writeHeadFile(file: string, head: SignedHead): void {
  writeFileAtomic(file, Buffer.from(headText(head)), { overwrite: true, mode: 0o600 });
}

export interface HeadProblem {
  seq: number;
  kind: 'tail_cut' | 'modified' | 'bad_head';
  detail: string;
}

/**
 * Whether a ledger whose rows end at `lastSeq` (with `hashAt(seq)` the stored hash of a row, undefined when missing)
 * still holds `head`, signed for `chain` by the ledger key `publicKeyPem`. Undefined when it does.
 * A head that does not verify is reported as such: it proves nothing, and the writer never writes one.
 */
export function checkHead(
  chain: string,
  head: SignedHead,
  source: HeadSource,
  lastSeq: number,
  hashAt: (seq: number) => string | undefined,
  publicKeyPem: string,
): HeadProblem | undefined {
  const signed = verify(
    null,
    checkpointMessage(chain, head.seq, head.hash, head.time),
    createPublicKey(publicKeyPem),
    Buffer.from(head.signature, 'base64'),
  );
  if (!signed)
    return {
      seq: head.seq,
      kind: 'bad_head',
      detail: `the head in ${source} (seq ${head.seq}) is not signed by the ledger's key`,
    };
  if (lastSeq < head.seq) {
    const missing =
      lastSeq + 1 === head.seq ? `row ${head.seq} is missing` : `rows ${lastSeq + 1}..${head.seq} are missing`;
    return {
      seq: lastSeq + 1,
      kind: 'tail_cut',
      detail:
        `ledger ends at seq ${lastSeq} but the head outside it (${source}, signed ${head.time}) says ` +
        `${head.seq}: ${missing}`,
    };
  }
  const hash = hashAt(head.seq);
  if (hash !== head.hash) {
    return {
      seq: head.seq,
      kind: 'modified',
      detail:
        `row ${head.seq} differs from the head signed in ${source} (${head.time}): the chain was rewritten ` +
        `from there or before`,
    };
  }
  return undefined;
}

/** The newer of two heads (by seq); either may be absent. */
export function newerHead(a: SignedHead | undefined, b: SignedHead | undefined): SignedHead | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.seq > a.seq ? b : a;
}

/** A head as verify finds it: read (a head, nothing, garbage), or not readable now (NATS down). */
export interface HeadInput {
  source: HeadSource;
  read: HeadRead | { unavailable: string };
  /**
   * Whether having none is itself a finding: the file, which every writer writes at start and at every checkpoint
   * (a ledger with a checkpoint and no head file lost it). Not NATS: a shared NATS may not let the writer put it.
   */
  required: boolean;
}

/**
 * Adds to a verify result of the rows what the heads outside the ledger say: each one the ledger must hold. The rows'
 * own finding, if any, comes first (it names the earlier row); the heads are reported either way.
 */
export function withHeads(
  result: VerifyResult,
  chain: string,
  rows: readonly LedgerRow[],
  publicKeyPem: string,
  inputs: readonly HeadInput[],
): VerifyResult {
  const hashes = new Map(rows.map((r) => [r.seq, r.hash]));
  const lastSeq = rows.length ? rows[rows.length - 1].seq : 0;
  // The rows' own finding first; then what a head says (it names the cut rows), before a head file that is missing.
  let problem = result.problem;
  let missing: VerifyResult['problem'];
  const heads: HeadReport[] = inputs.map(({ source, read, required }) => {
    if ('unavailable' in read) return { source, state: 'unavailable', note: read.unavailable };
    if ('absent' in read) {
      if (required && result.checkpoints > 0) {
        missing ??= {
          seq: lastSeq,
          kind: 'head_missing',
          detail:
            `${source} is missing: the ledger has signed checkpoints, so its writer wrote a head there; it was ` +
            `removed (with it, a cut tail would go unnoticed)`,
        };
        return { source, state: 'bad', note: 'missing' };
      }
      return { source, state: 'absent' };
    }
    if ('invalid' in read) {
      problem ??= { seq: lastSeq, kind: 'bad_head', detail: `${source}: ${read.invalid}` };
      return { source, state: 'bad', note: read.invalid };
    }
    const found = checkHead(chain, read.head, source, lastSeq, (s) => hashes.get(s), publicKeyPem);
    if (found) problem ??= found;
    return { source, state: found ? 'bad' : 'ok', seq: read.head.seq };
  });
  problem ??= missing;
  return { ...result, ok: !problem, problem, heads };
}

/** The heads part of verify's line: `; head seq N in A, B` and what could not be checked. */
export function describeHeads(heads: readonly HeadReport[] | undefined): string {
  if (!heads?.length) return '';
  const ok = heads.filter((h) => h.state === 'ok');
  const parts: string[] = [];
  if (ok.length) parts.push(`head seq ${ok.map((h) => h.seq).join('/')} held (${ok.map((h) => h.source).join(', ')})`);
  for (const h of heads.filter((x) => x.state === 'absent')) parts.push(`no head in ${h.source}`);
  for (const h of heads.filter((x) => x.state === 'unavailable')) parts.push(`${h.source} not checked: ${h.note}`);
  return parts.length ? `; ${parts.join('; ')}` : '';
}
