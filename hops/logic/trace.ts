// Trace ids: ingress gives every request a W3C traceparent (unless the agent sent one)
// and x-moat-trace, the id every later link and the ledger key on.
import { randomFillSync } from 'node:crypto';

// Random bytes from a pool filled 4 KiB at a time: a trace minted with two randomBytes() calls, each a buffer and a
// call into OpenSSL, was 3% of ingress's CPU per request (perf, docs/benchmarks.md).
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface TraceHeaders {
  trace: string;
  set: Record<string, string>;
}

export function traceFor(headers: Readonly<Record<string, string | string[] | undefined>>): TraceHeaders {
  const existing = headers['traceparent'];
  const match = typeof existing === 'string' ? TRACEPARENT.exec(existing) : null;
  if (match) return { trace: match[1], set: { 'x-moat-trace': match[1] } };
  const trace = randomHex(16);
  const span = randomHex(8);
  return { trace, set: { traceparent: `00-${trace}-${span}-01`, 'x-moat-trace': trace } };
}
