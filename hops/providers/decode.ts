// A provider body as text for the adapters: compressed bodies (clients often ask for gzip) are
// inflated, bounded, from the copy the recorder kept. Pure.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { isUtf8 } from 'node:buffer';

const MAX_INFLATED = 4 << 20;

/**
 * Bytes as text: UTF-8 when they are UTF-8; otherwise (binary, or a prefix cut inside a character) Latin-1, which
 * keeps every ASCII byte as it is (all a secret detector or a JSON key needs) in a one-byte string: decoding binary
 * as UTF-8 makes a two-byte string of replacement characters, 16 MB for moat-policy's 8 MiB inspection window.
 */
export function asText(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
}

/** The body's text, or an error naming why it cannot be read. */
export function bodyText(
  bytes: Buffer,
  contentEncoding: string | undefined,
  maxInflated = MAX_INFLATED,
): { text: string } | { error: string } {
  const encoding = String(contentEncoding ?? 'identity')
    .trim()
    .toLowerCase();
  try {
    if (encoding === 'identity' || encoding === '') return { text: asText(bytes) };
    if (encoding === 'gzip' || encoding === 'x-gzip')
      return { text: asText(gunzipSync(bytes, { maxOutputLength: maxInflated })) };
    if (encoding === 'br') return { text: asText(brotliDecompressSync(bytes, { maxOutputLength: maxInflated })) };
    if (encoding === 'deflate') return { text: asText(inflateSync(bytes, { maxOutputLength: maxInflated })) };
    return { error: `body is compressed with ${encoding}` };
  } catch {
    return { error: `${encoding} body could not be inflated (cut, or larger than ${maxInflated} bytes)` };
  }
}
