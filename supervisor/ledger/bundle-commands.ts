// `moat chain export FILE` and `moat chain verify FILE`: the ledger as one file, and its check
// with nothing but that file (no running chain, no state directory).
import { existsSync, readFileSync } from 'node:fs';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { MoatError } from '../errors';
import { describeVerify, headInputs, readLedgerSnapshot, settledHeads } from './commands';
import { withHeads } from './head';
import { bundleBytes, keyFingerprint, makeBundle, parseBundle, publicKeyOf, verifyBundle } from './bundle';
import { writeFileAtomic } from '../../hops/runtime/atomic-write';
import type { VerifyResult } from './verify';
import type { StateLayout } from '../chain/state';

export interface ExportSummary {
  file: string;
  rows: number;
  checkpoints: number;
}

const WRITE_REASONS: Record<string, string> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a parent is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
};

export async function exportChainLedger(
  layout: StateLayout,
  chain: string,
  file: string,
  force: boolean,
): Promise<ExportSummary> {
  const path = resolve(file);
  const exists = () => new MoatError('MOAT_ERR_EXPORT_EXISTS', `${path}: already exists (--force replaces it)`);
  if (!force && existsSync(path)) throw exists();
  // A bundle verifies with nothing but itself, so a ledger cut after its last checkpoint would export as a clean,
  // shorter one: the head outside the ledger is checked first (read before the rows, so a checkpoint meanwhile is among
  // them).
  const { rows, checkpoints, publicKey, checked } = await settledHeads(async () => {
    const heads = await headInputs(layout);
    const snapshot = await readLedgerSnapshot(layout);
    const found = withHeads(
      { ok: true, rows: snapshot.rows.length, checkpoints: snapshot.checkpoints.length, unsignedTail: 0 },
      chain,
      snapshot.rows,
      snapshot.publicKey,
      heads,
    );
    return { ...snapshot, checked: found, problem: found.problem };
  });
  if (!checked.ok)
    throw new MoatError('MOAT_ERR_LEDGER_TAMPERED', `not exported: ${describeVerify(layout.ledgerFile, checked)}`);
  const bytes = bundleBytes(makeBundle(chain, rows, checkpoints, publicKey));
  try {
    // 0600: with capture.bodies the ledger holds request and response bodies.
    writeFileAtomic(path, bytes, { overwrite: force, mode: 0o600 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw exists();
    throw new MoatError(
      'MOAT_ERR_EXPORT_WRITE',
      `${path}: cannot write the bundle: ${WRITE_REASONS[code] ?? (err as Error).message}`,
    );
  }
  return { file: path, rows: rows.length, checkpoints: checkpoints.length };
}

export interface BundleVerdict {
  result: VerifyResult;
  /** Fingerprint of the key the checkpoints were checked against. */
  key: string;
  /** Whether that key came from --key (else the bundle's own key was trusted). */
  pinned: boolean;
}

/** Checks a bundle file; without keyFile the bundle's own key is trusted, so only --key catches a full re-sign. */
export function verifyBundleFile(file: string, keyFile?: string): BundleVerdict {
  const bundle = parseBundle(readInput(file), file);
  const key = publicKeyOf(bundle, file);
  if (keyFile) {
    const pinned = readPublicKey(keyFile);
    if (!pinned.equals(key)) {
      throw new MoatError(
        'MOAT_ERR_KEY_MISMATCH',
        `${file}: signed by key ${keyFingerprint(key)}, not by ${keyFile} (${keyFingerprint(pinned)})`,
      );
    }
  }
  return { result: verifyBundle(bundle), key: keyFingerprint(key), pinned: Boolean(keyFile) };
}

function readInput(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message;
    throw new MoatError('MOAT_ERR_FILE_UNREADABLE', `${file}: cannot read: ${reason}`);
  }
}

function readPublicKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readInput(file));
  } catch (err) {
    if (err instanceof MoatError) throw err;
    throw new MoatError('MOAT_ERR_KEY_INVALID', `${file}: not a PEM public key`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new MoatError(
      'MOAT_ERR_KEY_INVALID',
      `${file}: an ${key.asymmetricKeyType} key, expected the ledger's Ed25519 public key`,
    );
  return key;
}
