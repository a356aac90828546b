// One secret sealed with AES-256-GCM (pure: no I/O). The grant store (supervisor/grants/store.ts) and the keys `up`
// hands egress (hops/runtime/sealed-secrets.ts) are both made of these: a fresh random 96-bit nonce per seal, and the
// secret's name (with what else binds it) as additional authenticated data, so an entry moved under another name, or
// any bit of its nonce, ciphertext or tag changed, fails to open instead of yielding a wrong key.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value as stored (base64 fields). */
export interface Sealed {
  nonce: string;
  ct: string;
  tag: string;
}

export function seal(key: Buffer, aad: string, plaintext: string, nonce: Buffer = randomBytes(NONCE_BYTES)): Sealed {
  checkKey(key);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { nonce: nonce.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/** The plaintext, or an Error (never a partial value) when anything does not authenticate. */
export function open(key: Buffer, aad: string, sealed: Sealed): string {
  checkKey(key);
  const nonce = strictBase64(sealed?.nonce, 'nonce');
  const tag = strictBase64(sealed?.tag, 'tag');
  const ct = strictBase64(sealed?.ct, 'ciphertext');
  if (nonce.length !== NONCE_BYTES) throw new Error(`nonce is ${nonce.length} bytes, not ${NONCE_BYTES}`);
  if (tag.length !== TAG_BYTES) throw new Error(`tag is ${tag.length} bytes, not ${TAG_BYTES}`);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('does not authenticate (tampered, or sealed under another key or name)');
  }
}

/**
 * A short fingerprint of a secret: HMAC-SHA256 under a key derived from the store's key, cut to 12 hex digits. Two
 * entries with the same secret show the same one, yet without the store's key nobody can test a guessed secret
 * against it offline (a plain hash of an API key could be).
 */
export function fingerprint(key: Buffer, secret: string): string {
  const fpKey = createHmac('sha256', key).update('moat grant fingerprint v1').digest();
  return createHmac('sha256', fpKey).update(secret, 'utf8').digest('hex').slice(0, 12);
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new Error(`the key is not ${KEY_BYTES} bytes`);
}

function strictBase64(text: unknown, what: string): Buffer {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new Error(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}
