// A provider body as text for the adapters: compressed bodies (clients often ask for gzip) are
// inflated, bounded, from the copy the recorder kept. Pure.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

const MAX_INFLATED = 4 << 20;

/** The body's text, or an error naming why it cannot be read. */
export function bodyText(bytes: Buffer, contentEncoding: string | undefined, maxInflated = MAX_INFLATED): { text: string } | { error: string } {
  const encoding = String(contentEncoding ?? 'identity').trim().toLowerCase();
  try {
    if (encoding === 'identity' || encoding === '') return { text: bytes.toString('utf8') };
    if (encoding === 'gzip' || encoding === 'x-gzip') return { text: gunzipSync(bytes, { maxOutputLength: maxInflated }).toString('utf8') };
    if (encoding === 'br') return { text: brotliDecompressSync(bytes, { maxOutputLength: maxInflated }).toString('utf8') };
    if (encoding === 'deflate') return { text: inflateSync(bytes, { maxOutputLength: maxInflated }).toString('utf8') };
    return { error: `body is compressed with ${encoding}` };
  } catch {
    return { error: `${encoding} body could not be inflated (cut, or larger than ${maxInflated} bytes)` };
  }
}
