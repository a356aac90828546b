// The ledger bundle that `moat chain export` writes and `moat chain verify FILE` checks with
// nothing else: one JSON document, canonical (keys sorted at every level, no whitespace) and
// one final newline. Pure: bytes in, bundle or verdict out.
//
// No byte of a bundle can change unnoticed: a file that is not byte for byte the canonical form
// of what it parses to is refused (so "only formatting" counts too), and every field is a
// constant (format), covered by the hash chain (rows) or a checkpoint signature (chain,
// checkpoints, public_key), or cross-checked against its event (a row's id and chain). That is
// also why a bundle carries no export time or host: nothing could vouch for them.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { MoatError } from '../errors';
import type { LedgerRow } from './ledger';
import { verifyLedger, type Checkpoint, type VerifyResult } from './verify';

export const BUNDLE_FORMAT = 'moat-ledger-bundle/1';

export interface LedgerBundle {
  format: typeof BUNDLE_FORMAT;
  chain: string;
  /** The Ed25519 key that signed the checkpoints, SPKI PEM exactly as Node exports it. */
  public_key: string;
  rows: LedgerRow[];
  checkpoints: Checkpoint[];
}

/** Copies only the fields a bundle holds (database rows may carry more), with the key in canonical PEM. */
export function makeBundle(
  chain: string,
  rows: LedgerRow[],
  checkpoints: Checkpoint[],
  publicKeyPem: string,
): LedgerBundle {
  return {
    format: BUNDLE_FORMAT,
    chain,
    public_key: createPublicKey(publicKeyPem).export({ type: 'spki', format: 'pem' }).toString(),
    rows: rows.map(({ seq, id, event, prev_hash, hash }) => ({ seq, id, event, prev_hash, hash })),
    checkpoints: checkpoints.map(({ seq, hash, time, signature }) => ({ seq, hash, time, signature })),
  };
}

export function bundleBytes(bundle: LedgerBundle): Buffer {
  return Buffer.from(canonicalJson(bundle) + '\n', 'utf8');
}

type FieldType = 'string' | 'seq' | 'array';
const TOP: Record<string, FieldType> = {
  format: 'string',
  chain: 'string',
  public_key: 'string',
  rows: 'array',
  checkpoints: 'array',
};
const ROW: Record<string, FieldType> = {
  seq: 'seq',
  id: 'string',
  event: 'string',
  prev_hash: 'string',
  hash: 'string',
};
const CHECKPOINT: Record<string, FieldType> = { seq: 'seq', hash: 'string', time: 'string', signature: 'string' };
const EXPECTED: Record<FieldType, string> = { string: 'a string', seq: 'a positive integer', array: 'an array' };

/**
 * Parses a bundle strictly; anything but a canonical bundle is a MOAT_ERR_BUNDLE_INVALID naming the file and what is
 * wrong.
 */
export function parseBundle(bytes: Buffer, file: string): LedgerBundle {
  const invalid = (what: string) => new MoatError('MOAT_ERR_BUNDLE_INVALID', `${file}: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(`not a ledger bundle: not JSON (${(err as Error).message})`);
  }
  const fields = (value: unknown, shape: Record<string, FieldType>, where: string): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw invalid(`${where || 'the document'}: expected an object`);
    const record = value as Record<string, unknown>;
    const extra = Object.keys(record).find((k) => !Object.hasOwn(shape, k));
    if (extra !== undefined) throw invalid(`${where ? `${where}: ` : ''}unknown key "${extra}"`);
    for (const [key, type] of Object.entries(shape)) {
      const v = record[key];
      const fits =
        type === 'string'
          ? typeof v === 'string'
          : type === 'array'
            ? Array.isArray(v)
            : Number.isSafeInteger(v) && (v as number) >= 1;
      if (!fits) throw invalid(`${where ? `${where}.` : ''}${key}: expected ${EXPECTED[type]}`);
    }
    return record;
  };
  const top = fields(doc, TOP, '');
  if (top.format !== BUNDLE_FORMAT) throw invalid(`format is "${top.format}", expected "${BUNDLE_FORMAT}"`);
  (top.rows as unknown[]).forEach((r, i) => fields(r, ROW, `rows[${i}]`));
  const checkpoints = (top.checkpoints as unknown[]).map(
    (c, i) => fields(c, CHECKPOINT, `checkpoints[${i}]`) as unknown as Checkpoint,
  );
  // Node decodes base64 leniently (stray characters, unused trailing bits): only the canonical spelling is accepted.
  checkpoints.forEach((c, i) => {
    if (Buffer.from(c.signature, 'base64').toString('base64') !== c.signature)
      throw invalid(`checkpoints[${i}].signature: not canonical base64`);
  });
  const bundle = top as unknown as LedgerBundle;
  publicKeyOf(bundle, file);
  const canonical = bundleBytes(bundle);
  if (!canonical.equals(bytes))
    throw invalid(
      `not in canonical form from byte ${firstDifference(canonical, bytes)} on: the file was changed after export`,
    );
  return bundle;
}

/**
 * The bundle's key; it must be Ed25519 and spelled exactly as Node exports it (PEM, like base64, has equivalent
 * spellings).
 */
export function publicKeyOf(bundle: LedgerBundle, file: string): KeyObject {
  const invalid = (what: string) => new MoatError('MOAT_ERR_BUNDLE_INVALID', `${file}: public_key: ${what}`);
  let key: KeyObject;
  try {
    key = createPublicKey(bundle.public_key);
  } catch {
    throw invalid('not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw invalid(`an ${key.asymmetricKeyType} key, expected Ed25519`);
  if (key.export({ type: 'spki', format: 'pem' }).toString() !== bundle.public_key)
    throw invalid('not in canonical PEM form: the file was changed after export');
  return key;
}

/** `SHA256:<base64>` of the key's SPKI bytes, as ssh-keygen -l shows keys. */
export function keyFingerprint(key: KeyObject): string {
  return `SHA256:${createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('base64')
    .replace(/=+$/, '')}`;
}

/** The ledger checks, then what only a bundle can get wrong: a row whose id or chain is not its event's. */
export function verifyBundle(bundle: LedgerBundle): VerifyResult {
  const result = verifyLedger(bundle.chain, bundle.rows, bundle.checkpoints, bundle.public_key);
  if (!result.ok) return result;
  for (const row of bundle.rows) {
    const detail = rowMismatch(row, bundle.chain);
    if (detail) return { ...result, ok: false, problem: { seq: row.seq, kind: 'modified', detail } };
  }
  return result;
}

function rowMismatch(row: LedgerRow, chain: string): string | undefined {
  let event: { id?: unknown; chain?: unknown };
  try {
    event = JSON.parse(row.event) ?? {};
  } catch {
    return `row ${row.seq}'s event is not JSON`;
  }
  if (event.id !== row.id) return `row ${row.seq}'s id "${row.id}" is not its event's id "${event.id}"`;
  if (event.chain !== chain)
    return `row ${row.seq}'s event belongs to chain "${event.chain}", the bundle says "${chain}"`;
  return undefined;
}

function firstDifference(a: Buffer, b: Buffer): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
