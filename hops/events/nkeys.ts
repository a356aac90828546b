// NATS nkeys (a user's Ed25519 key pair in NATS's text form) made and used with Node's own Ed25519 (OpenSSL).
// nats.js does both with tweetnacl, pure JavaScript: the first signature of a process cost 55 ms of CPU (its code not
// yet compiled), paid by each of a chain's ten or so connections at `up`, and every user's key pair cost as much
// again in `up` itself. Here they cost well under a millisecond.
//
// The text form: base32 (RFC 4648, no padding) of prefix byte(s), the 32-byte key and a CRC-16/XMODEM of both,
// little-endian. A seed has two prefix bytes (the seed kind and the public kind packed so both read as letters:
// "SU..." for a user); a public key one ("U...").
import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';

const SEED_KIND = 18 << 3; // 'S'
const USER_KIND = 20 << 3; // 'U'
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
// PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410).
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A new NATS user: its seed (a secret) and its public key, both in NATS's text form. The seed is 32 random bytes (an
 * Ed25519 private key is its seed, RFC 8032), not generateKeyPairSync's: Node 20 deadlocks when a key it generated is
 * exported as JWK while the collector finalizes the generating job (the job's destructor takes the key's lock, which
 * the export holds): `up` hung for a minute in CI, its main thread in ~KeyGenJob under ExportJWKEdKey.
 */
export function newUserNkey(): { seed: string; publicKey: string } {
  const raw = randomBytes(32);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw]), format: 'der', type: 'pkcs8' });
  return {
    seed: encode(Buffer.concat([Buffer.from([SEED_KIND | (USER_KIND >> 5), (USER_KIND & 31) << 3]), raw])),
    publicKey: userPublicKey(createPublicKey(privateKey)),
  };
}

/**
 * What nats.js calls to answer the server's challenge: the user's public key and its signature of the nonce. The seed
 * is read at the first call, as nats.js's own does: a damaged one fails the connection, not the caller.
 */
export function nkeyAuthenticator(seed: string): (nonce?: string) => { nkey: string; sig: string } {
  let user: { key: KeyObject; nkey: string } | undefined;
  return (nonce?: string) => {
    if (!user) {
      const key = privateKeyOf(seed);
      user = { key, nkey: userPublicKey(createPublicKey(key)) };
    }
    return { nkey: user.nkey, sig: nonce ? sign(null, Buffer.from(nonce, 'utf8'), user.key).toString('base64') : '' };
  };
}

function privateKeyOf(seed: string): KeyObject {
  const raw = decode(seed.trim());
  if (raw.length !== 34 || (raw[0] & 0xf8) !== SEED_KIND) throw new Error('not a NATS nkey seed');
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw.subarray(2)]), format: 'der', type: 'pkcs8' });
}

function userPublicKey(key: KeyObject): string {
  const raw = Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url');
  return encode(Buffer.concat([Buffer.from([USER_KIND]), raw]));
}

/** Payload and checksum, base32. */
function encode(payload: Buffer): string {
  const sum = Buffer.alloc(2);
  sum.writeUInt16LE(crc16(payload));
  return base32(Buffer.concat([payload, sum]));
}

/** The payload of a text key whose checksum holds; throws otherwise. */
function decode(text: string): Buffer {
  const raw = unbase32(text);
  if (raw.length < 4) throw new Error('not a NATS nkey');
  const payload = raw.subarray(0, raw.length - 2);
  if (crc16(payload) !== raw.readUInt16LE(raw.length - 2)) throw new Error('a NATS nkey with a wrong checksum');
  return payload;
}

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Buffer {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) throw new Error('not a NATS nkey');
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** CRC-16/XMODEM (polynomial 0x1021, initial 0), bit by bit: keys are 35 bytes. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
