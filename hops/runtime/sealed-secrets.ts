// How `up` hands egress its secrets (grant keys, the upstream proxy's credentials) without its environment or
// command line: a file of values sealed with AES-256-GCM (hops/logic/sealed.ts) beside a key file, both 0600, whose
// paths alone are in egress's spec. Egress opens them at every start, so pm2's restarts find them; `down` removes
// the key. Nothing is half-read: one entry that does not open and egress gets none.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { KEY_BYTES, open, seal, type Sealed } from '../logic/sealed';

const FORMAT = 'moat sealed secrets';

interface SealedSecretsFile {
  format: string;
  version: 1;
  entries: Record<string, Sealed>;
}

const aadOf = (name: string): string => `${FORMAT} v1\u0000${name}`;

/** Writes `text` to `file` (0600) so that a reader sees the old content or the new, never a part. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Seals `secrets` under a new random key: the sealed file and the key file, both 0600. */
export function writeSealedSecrets(file: string, keyFile: string, secrets: Record<string, string>): void {
  const key = randomBytes(KEY_BYTES);
  const entries = Object.fromEntries(Object.entries(secrets).map(([n, v]) => [n, seal(key, aadOf(n), v)]));
  writeFileAtomic(keyFile, key.toString('hex') + '\n');
  writeFileAtomic(file, JSON.stringify({ format: FORMAT, version: 1, entries } satisfies SealedSecretsFile) + '\n');
}

/**
 * Every secret of the file, or an Error naming the file and the code of a refused store (never a secret) when any part
 * of it does not open: egress's log line then reads as `moat grant` and `up` say it (docs/errors.md).
 */
export function readSealedSecrets(file: string, keyFile: string): Record<string, string> {
  const fail = (why: string) => new Error(`${file}: ${why} (MOAT_ERR_GRANT_STORE)`);
  let keyHex: string;
  let text: string;
  try {
    keyHex = readFileSync(keyFile, 'utf8').trim();
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(
      `cannot read the sealed secrets or their key (${(err as NodeJS.ErrnoException).code}); run \`moat chain up\` again`,
    );
  }
  if (!/^[0-9a-f]{64}$/.test(keyHex)) throw fail(`its key file ${keyFile} does not hold a 256-bit hex key`);
  let parsed: SealedSecretsFile;
  try {
    parsed = JSON.parse(text) as SealedSecretsFile;
  } catch {
    throw fail('is not JSON');
  }
  if (parsed?.format !== FORMAT || parsed.version !== 1 || typeof parsed.entries !== 'object' || !parsed.entries)
    throw fail(`is not a version-1 "${FORMAT}" file`);
  const key = Buffer.from(keyHex, 'hex');
  const out: Record<string, string> = {};
  for (const [name, sealed] of Object.entries(parsed.entries)) {
    try {
      out[name] = open(key, aadOf(name), sealed);
    } catch (err) {
      throw fail(`entry ${JSON.stringify(name)} ${(err as Error).message}`);
    }
  }
  return out;
}
