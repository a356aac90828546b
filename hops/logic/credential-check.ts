// Does a request carry this listener's credential? One constant-time compare of `Proxy-Authorization: Basic
// base64(moat:<credential>)`: the whole per-request cost of "each process accepts only the process before it"
// (npm run bench measures it, docs/benchmarks.md).
import { timingSafeEqual } from 'node:crypto';

/** What the header must decode to, made once per listener. */
export function expectedBasic(credential: string): Buffer {
  return Buffer.from(`moat:${credential}`);
}

export function carriesCredential(header: string | string[] | undefined, expected: Buffer): boolean {
  const m = typeof header === 'string' ? /^Basic\s+(.+)$/i.exec(header) : null;
  if (!m) return false;
  const given = Buffer.from(m[1], 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
