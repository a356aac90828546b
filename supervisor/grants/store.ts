// The grant store: MOAT_HOME/grants.json, the keys `moat grant add` was given, each sealed with AES-256-GCM under the
// store's key (store-key.ts) with a fresh nonce per write and its name, host, header, format and date as additional
// authenticated data: an entry renamed, pointed at another host, or with any bit changed does not open. The file is
// read whole and every entry opened before any is used (a damaged store is refused, never half-read:
// MOAT_ERR_GRANT_STORE naming the file), and written atomically, 0600. `grant add` and `grant rm` read, change and
// write it under a lock (MOAT_HOME/grants.lock), so two run at once cannot lose each other's grant.
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MoatError } from '../errors';
import { fingerprint, open, seal, type Sealed } from '../../hops/logic/sealed';
import { writeFileAtomic } from '../../hops/runtime/sealed-secrets';
import { isHeldElsewhere, takeFileLock, type FileLock } from '../file-lock';
import { existingStoreKey, newStoreKey, systemKeyring, type KeySource, type Keyring, type StoreKey } from './store-key';

const FORMAT = 'moat grant store';

/** What `grants:` takes of a grant, and when it was added; everything but the key. */
export interface GrantMeta {
  name: string;
  host: string;
  header: string;
  format: string;
  /** ISO 8601. */
  added: string;
}

export interface StoredGrant extends GrantMeta {
  key: string;
}

interface StoreFile {
  format: string;
  version: 1;
  key: KeySource;
  entries: Record<string, GrantMeta & { sealed: Sealed }>;
}

export interface OpenedStore {
  file: string;
  storeKey: StoreKey;
  grants: StoredGrant[];
}

/** Where the system keyring is looked for: a parameter so tests can give a fake one (or none). */
export type KeyringLookup = (home: string) => { keyring?: Keyring; why?: string };

export const storeFileOf = (home: string): string => join(home, 'grants.json');
export const storeLockOf = (home: string): string => join(home, 'grants.lock');
/** How long a command waits for another one changing the store (each takes milliseconds, a keyring prompt longer). */
const STORE_LOCK_WAIT_MS = 5000;

/** Binds an entry's ciphertext to everything the entry says. */
const aadOf = (m: GrantMeta): string => JSON.stringify([FORMAT, 1, m.name, m.host, m.header, m.format, m.added]);

const storeError = (file: string, why: string) => new MoatError('MOAT_ERR_GRANT_STORE', `${file}: ${why}`);

/** The store of `home`, every entry opened; undefined when there is none. */
export function openStore(home: string, keyring: KeyringLookup = systemKeyring): OpenedStore | undefined {
  const file = storeFileOf(home);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storeError(file, `cannot be read: ${(err as Error).message}`);
  }
  let parsed: StoreFile;
  try {
    parsed = JSON.parse(text) as StoreFile;
  } catch {
    throw storeError(file, 'is not JSON (damaged); remove it and add the grants again');
  }
  if (
    parsed?.format !== FORMAT ||
    parsed.version !== 1 ||
    (parsed.key !== 'keyring' && parsed.key !== 'file') ||
    typeof parsed.entries !== 'object' ||
    parsed.entries === null ||
    Array.isArray(parsed.entries)
  )
    throw storeError(file, `is not a version-1 moat grant store (damaged); remove it and add the grants again`);
  // The keyring's module is loaded only for a store whose key is there (a file store never loads it).
  const storeKey = existingStoreKey(home, file, parsed.key, parsed.key === 'keyring' ? keyring(home) : {});
  const grants: StoredGrant[] = [];
  const hosts = new Set<string>();
  for (const [name, entry] of Object.entries(parsed.entries)) {
    const meta = metaOf(entry);
    if (!meta || meta.name !== name)
      throw storeError(file, `entry ${JSON.stringify(name)} is damaged (its fields do not match a grant's)`);
    let key: string;
    try {
      key = open(storeKey.key, aadOf(meta), entry.sealed);
    } catch (err) {
      throw storeError(file, `entry ${JSON.stringify(name)} ${(err as Error).message}; the store is refused`);
    }
    if (hosts.has(meta.host)) throw storeError(file, `two entries grant host ${meta.host}`);
    hosts.add(meta.host);
    grants.push({ ...meta, key });
  }
  return { file, storeKey, grants };
}

function metaOf(entry: unknown): GrantMeta | undefined {
  const e = entry as Record<string, unknown>;
  if (!e || typeof e !== 'object') return undefined;
  const fields = ['name', 'host', 'header', 'format', 'added'] as const;
  if (!fields.every((f) => typeof e[f] === 'string') || typeof e.sealed !== 'object') return undefined;
  return Object.fromEntries(fields.map((f) => [f, e[f]])) as unknown as GrantMeta;
}

function write(file: string, source: KeySource, key: Buffer, grants: readonly StoredGrant[]): void {
  const entries: StoreFile['entries'] = {};
  for (const { key: secret, ...meta } of grants) {
    entries[meta.name] = { ...meta, sealed: seal(key, aadOf(meta), secret) };
  }
  const body: StoreFile = { format: FORMAT, version: 1, key: source, entries };
  writeFileAtomic(file, JSON.stringify(body, null, 2) + '\n');
}

export interface Added {
  file: string;
  storeKey: StoreKey & { why?: string };
  replaced: boolean;
  fingerprint: string;
}

/** Adds (or replaces, by name) one grant; every entry is sealed again with a fresh nonce. */
export function addGrant(
  home: string,
  meta: Omit<GrantMeta, 'added'>,
  secret: string,
  keyring: KeyringLookup = systemKeyring,
  now: Date = new Date(),
): Added {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  return whileLocked(home, () => {
    const file = storeFileOf(home);
    const current = openStore(home, keyring);
    const storeKey = current?.storeKey ?? newStoreKey(home, file, keyring(home));
    const others = (current?.grants ?? []).filter((g) => g.name !== meta.name);
    const clash = others.find((g) => g.host === meta.host);
    if (clash)
      throw new MoatError(
        'MOAT_ERR_USAGE',
        `grant ${JSON.stringify(clash.name)} already holds the key for ${meta.host}; one key per host (remove it ` +
          `first with \`moat grant rm ${clash.name}\`)`,
      );
    write(file, storeKey.source, storeKey.key, [...others, { ...meta, added: now.toISOString(), key: secret }]);
    return {
      file,
      storeKey,
      replaced: others.length !== (current?.grants.length ?? 0),
      fingerprint: fingerprint(storeKey.key, secret),
    };
  });
}

/** Removes a grant by name; false when there was none. */
export function removeGrant(home: string, name: string, keyring: KeyringLookup = systemKeyring): boolean {
  if (!existsSync(storeFileOf(home))) return false;
  return whileLocked(home, () => {
    const current = openStore(home, keyring);
    if (!current?.grants.some((g) => g.name === name)) return false;
    write(
      current.file,
      current.storeKey.source,
      current.storeKey.key,
      current.grants.filter((g) => g.name !== name),
    );
    return true;
  });
}

/** Reads, changes and writes the store with no other `moat grant` command doing the same meanwhile. */
function whileLocked<T>(home: string, change: () => T): T {
  const file = storeFileOf(home);
  let lock: FileLock;
  try {
    lock = takeFileLock(storeLockOf(home), STORE_LOCK_WAIT_MS);
  } catch (err) {
    throw storeError(
      file,
      isHeldElsewhere(err)
        ? `another command has held its lock (${storeLockOf(home)}) for ${STORE_LOCK_WAIT_MS / 1000} s; nothing ` +
            `was changed: try again once it is done`
        : `cannot take its lock (${storeLockOf(home)}): ${(err as Error).message}`,
    );
  }
  try {
    return change();
  } finally {
    lock.release();
  }
}

/** A stored grant as `moat grant list` shows it: never the key, a fingerprint that only this store can make. */
export interface GrantRow extends GrantMeta {
  fingerprint: string;
}

export function grantRows(store: OpenedStore): GrantRow[] {
  return store.grants.map(({ key, ...meta }) => ({ ...meta, fingerprint: fingerprint(store.storeKey.key, key) }));
}
