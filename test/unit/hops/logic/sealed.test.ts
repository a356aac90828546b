// AES-256-GCM sealing of one secret: a round trip, and every change to what was sealed refused (tamper of nonce,
// ciphertext, tag, the name it was sealed under, or the key), never a wrong plaintext.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { fingerprint, open, seal, type Sealed } from '../../../../hops/logic/sealed';

const KEY = randomBytes(32);
const SECRET = 'sk-ant-api03-SECRET-0123456789';

/** `b64` with one bit of its byte `at` flipped. */
function flip(b64: string, at = 0): string {
  const buf = Buffer.from(b64, 'base64');
  buf[at] ^= 1;
  return buf.toString('base64');
}

describe('sealed (AES-256-GCM)', () => {
  it('round trip; a fresh nonce per seal, so the same secret seals differently each time', () => {
    const a = seal(KEY, 'anthropic', SECRET);
    const b = seal(KEY, 'anthropic', SECRET);
    expect(open(KEY, 'anthropic', a)).to.equal(SECRET);
    expect(a.nonce).to.not.equal(b.nonce);
    expect(a.ct).to.not.equal(b.ct);
    expect(JSON.stringify(a)).to.not.contain(SECRET);
  });

  const tampered: [string, (s: Sealed) => Sealed, string?][] = [
    ['nonce', (s) => ({ ...s, nonce: flip(s.nonce) })],
    ['ciphertext', (s) => ({ ...s, ct: flip(s.ct, 3) })],
    ['tag', (s) => ({ ...s, tag: flip(s.tag, 15) })],
    ['short nonce', (s) => ({ ...s, nonce: s.nonce.slice(0, 8) }), 'nonce is 6 bytes'],
    ['short tag', (s) => ({ ...s, tag: Buffer.alloc(8).toString('base64') }), 'tag is 8 bytes'],
    ['not base64', (s) => ({ ...s, ct: '%%%%' }), 'ciphertext is not base64'],
    ['missing field', (s) => ({ nonce: s.nonce, ct: s.ct }) as Sealed, 'tag is not base64'],
  ];
  for (const [what, change, message] of tampered) {
    it(`a changed ${what} is refused`, () => {
      const s = change(seal(KEY, 'anthropic', SECRET));
      expect(() => open(KEY, 'anthropic', s)).to.throw(message ?? 'does not authenticate');
    });
  }

  it('another name (the additional authenticated data) or another key is refused', () => {
    const s = seal(KEY, 'anthropic', SECRET);
    expect(() => open(KEY, 'openai', s)).to.throw('does not authenticate');
    expect(() => open(randomBytes(32), 'anthropic', s)).to.throw('does not authenticate');
    expect(() => open(Buffer.alloc(16), 'anthropic', s)).to.throw('not 32 bytes');
  });

  it('a fingerprint is short, stable per key, never the secret, and differs under another store key', () => {
    const fp = fingerprint(KEY, SECRET);
    expect(fp).to.match(/^[0-9a-f]{12}$/);
    expect(fingerprint(KEY, SECRET)).to.equal(fp);
    expect(fingerprint(randomBytes(32), SECRET)).to.not.equal(fp);
    expect(fingerprint(KEY, `${SECRET}x`)).to.not.equal(fp);
    expect(SECRET).to.not.contain(fp);
    // Not a plain hash of the secret, which anyone could compute to test a guess.
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    expect(createHash('sha256').update(SECRET).digest('hex')).to.not.contain(fp);
  });
});
