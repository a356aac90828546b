// The grant store's own key (256 bits): in the system keyring where one runs (the Secret Service on Linux, through the
// optional @napi-rs/keyring), else in MOAT_HOME/grants.key (0600). The store records which, so a key that moved is
// never silently replaced by a new one (the store would then not open). The keyring is optional at run time: not
// installed, no Secret Service, or MOAT_GRANT_KEYRING=off, and the key file is used; it never fails a command.
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MoatError } from '../errors';
import { KEY_BYTES } from '../../hops/logic/sealed';

export type KeySource = 'keyring' | 'file';

export interface StoreKey {
  key: Buffer;
  source: KeySource;
  /** Where it is, for the user: the key file's path, or the keyring entry's service and account. */
  where: string;
}

/** The one keyring entry of a MOAT_HOME (what @napi-rs/keyring's Entry offers, so tests can give a fake). */
export interface Keyring {
  get(): string | null | undefined;
  set(value: string): void;
  where: string;
}

export const keyFileOf = (home: string): string => join(home, 'grants.key');

const KEYRING_SERVICE = 'moat';

/** The keyring entry for this MOAT_HOME, or why there is none (never throws). */
export function systemKeyring(home: string, env: NodeJS.ProcessEnv = process.env): { keyring?: Keyring; why?: string } {
  if (/^(off|0|false|no)$/i.test(env.MOAT_GRANT_KEYRING ?? '')) return { why: 'MOAT_GRANT_KEYRING=off' };
  let Entry: new (
    service: string,
    account: string,
  ) => {
    getPassword(): string | null;
    setPassword(v: string): void;
  };
  try {
    ({ Entry } = require('@napi-rs/keyring'));
  } catch {
    return { why: '@napi-rs/keyring is not installed' };
  }
  let account: string;
  try {
    account = `grant-store ${realpathSync(home)}`;
  } catch {
    account = `grant-store ${home}`;
  }
  try {
    const entry = new Entry(KEYRING_SERVICE, account);
    return {
      keyring: {
        get: () => entry.getPassword(),
        set: (v) => entry.setPassword(v),
        where: `system keyring (service "${KEYRING_SERVICE}", account "${account}")`,
      },
    };
  } catch (err) {
    return { why: `no system keyring (${(err as Error).message})` };
  }
}

function parseKey(text: string | null | undefined): Buffer | undefined {
  const hex = (text ?? '').trim();
  return /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

function storeError(storeFile: string, why: string): MoatError {
  return new MoatError('MOAT_ERR_GRANT_STORE', `${storeFile}: ${why}`);
}

/** The key file's key; refused when it is not a regular file of 0600 (or stricter) holding 64 hex digits. */
function readKeyFile(storeFile: string, keyFile: string): Buffer | undefined {
  let st;
  try {
    st = lstatSync(keyFile);
  } catch {
    return undefined;
  }
  if (!st.isFile()) throw storeError(storeFile, `its key file ${keyFile} is not a regular file`);
  if (st.mode & 0o077)
    throw storeError(
      storeFile,
      `its key file ${keyFile} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`,
    );
  if (process.getuid && st.uid !== process.getuid())
    throw storeError(storeFile, `its key file ${keyFile} belongs to another user (uid ${st.uid})`);
  const key = parseKey(readFileSync(keyFile, 'utf8'));
  if (!key) throw storeError(storeFile, `its key file ${keyFile} does not hold a 256-bit hex key`);
  return key;
}

/** The key a store was written with (its recorded source); MOAT_ERR_GRANT_STORE when it cannot be had. */
export function existingStoreKey(
  home: string,
  storeFile: string,
  source: KeySource,
  ring: { keyring?: Keyring; why?: string } = systemKeyring(home),
): StoreKey {
  if (source === 'keyring') {
    if (!ring.keyring)
      throw storeError(storeFile, `its key is in the system keyring, which cannot be reached here: ${ring.why}`);
    let text: string | null | undefined;
    try {
      text = ring.keyring.get();
    } catch (err) {
      throw storeError(storeFile, `its key is in the system keyring, which answered: ${(err as Error).message}`);
    }
    const key = parseKey(text);
    if (!key) throw storeError(storeFile, `its key is not in the ${ring.keyring.where} any more`);
    return { key, source, where: ring.keyring.where };
  }
  const keyFile = keyFileOf(home);
  const key = readKeyFile(storeFile, keyFile);
  if (!key) throw storeError(storeFile, `its key file ${keyFile} is missing; the store cannot be opened without it`);
  return { key, source, where: keyFile };
}

/**
 * The key for a new store: the keyring's (made there when it has none) when one answers, else the key file's (made,
 * 0600, when missing). `why` says why the keyring was not used.
 */
export function newStoreKey(
  home: string,
  storeFile: string,
  ring: { keyring?: Keyring; why?: string } = systemKeyring(home),
): StoreKey & { why?: string } {
  let why = ring.why;
  if (ring.keyring) {
    try {
      let key = parseKey(ring.keyring.get());
      if (!key) {
        key = randomBytes(KEY_BYTES);
        ring.keyring.set(key.toString('hex'));
        // Read back: a keyring that takes a value and forgets it (no session collection) must not be trusted.
        if (!parseKey(ring.keyring.get())?.equals(key)) throw new Error('it did not keep the key');
      }
      return { key, source: 'keyring', where: ring.keyring.where };
    } catch (err) {
      why = `no usable system keyring (${(err as Error).message})`;
    }
  }
  const keyFile = keyFileOf(home);
  let key = readKeyFile(storeFile, keyFile);
  if (!key) {
    key = randomBytes(KEY_BYTES);
    try {
      // 'wx': two `grant add` at once must not each make a key and leave the store under the one that lost.
      writeFileSync(keyFile, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storeError(storeFile, (err as Error).message);
      key = readKeyFile(storeFile, keyFile)!;
    }
  }
  return { key, source: 'file', where: keyFile, ...(why ? { why } : {}) };
}
