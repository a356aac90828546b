// The little of ASN.1 DER that minting a leaf needs (leaf-certificate.ts): writing a value as tag, length and
// contents, and finding the parts of a certificate it copies (the CA's subject and key identifier, a public key's
// bits). Pure functions over Buffers.

/** One DER value: its tag, and `parts` joined as its contents. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const contents = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(contents.length), contents]);
}

export const sequence = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
export const octetString = (...parts: Buffer[]): Buffer => tlv(0x04, ...parts);

/** An OBJECT IDENTIFIER from its dotted form (each arc base 128, the first two joined as 40 * a + b). */
export function objectId(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes: number[] = [];
  for (const arc of [40 * a + b, ...rest]) {
    const digits = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) digits.unshift((n & 0x7f) | 0x80);
    bytes.push(...digits);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A positive INTEGER from unsigned big-endian bytes, in the fewest bytes DER allows. */
export function positiveInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const digits = bytes.subarray(start);
  return tlv(0x02, digits[0] & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits);
}

/** RFC 5280's time: UTCTime through 2049, GeneralizedTime from 2050, to the second, in UTC. */
export function certificateTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2))) : tlv(0x18, Buffer.from(digits));
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Where one value lies in `der`: its tag, and the offsets of its start, its contents and its end. */
export interface DerValue {
  tag: number;
  start: number;
  contents: number;
  end: number;
}

/** The value starting at `offset`; throws on a length that runs past the end. */
export function readValue(der: Buffer, offset: number): DerValue {
  if (offset + 2 > der.length) throw new Error('DER: value past the end');
  let length = der[offset + 1];
  let contents = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('DER: unsupported length');
    if (offset + 2 + count > der.length) throw new Error('DER: value past the end');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i];
    contents += count;
  }
  if (contents + length > der.length) throw new Error('DER: value past the end');
  return { tag: der[offset], start: offset, contents, end: contents + length };
}

/** The values inside a constructed value, in order; throws on one that runs past its parent's end. */
export function children(der: Buffer, parent: DerValue): DerValue[] {
  const found: DerValue[] = [];
  for (let at = parent.contents; at < parent.end;) {
    const value = readValue(der, at);
    if (value.end > parent.end) throw new Error('DER: value past the end');
    found.push(value);
    at = value.end;
  }
  return found;
}
