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

/**
 * A trace id minted here (ingress, a request unmatched after a hop, a replay): the time in ms (48 bits, as UUIDv7 does)
 * then 80 random bits. The ledger indexes every event by its trace; random ids put each insert on a random page of two
 * indexes, which cost its writer nearly twice the CPU per event on a ledger of 240,000 events (docs/benchmarks.md).
 * 80 bits per millisecond keep them unique. Nothing relies on a trace id being unguessable (replay's skip ask is
 * signed); the provider sees the time in `traceparent`, as it sees the request arrive.
 */
export function timeOrderedId(now = Date.now()): string {
  return Math.floor(now).toString(16).padStart(12, '0').slice(-12) + randomHex(10);
}

/** A trace id as Moat mints and takes them: 32 lower-case hex digits (timeOrderedId, or a traceparent's trace id). */
export const TRACE_ID = /^[0-9a-f]{32}$/;

/** A W3C traceparent: version, trace id (group 1), span id and flags, lower-case hex. */
export const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface TraceHeaders {
  trace: string;
  set: Record<string, string>;
}

export function traceFor(headers: Readonly<Record<string, string | string[] | undefined>>): TraceHeaders {
  const existing = headers['traceparent'];
  const match = typeof existing === 'string' ? TRACEPARENT.exec(existing) : null;
  if (match) return { trace: match[1], set: { 'x-moat-trace': match[1] } };
  const trace = timeOrderedId();
  const span = randomHex(8);
  return { trace, set: { traceparent: `00-${trace}-${span}-01`, 'x-moat-trace': trace } };
}

/**
 * Whether a header holds the request's trace and nothing else but lower-case hex: x-moat-trace equal to the trace, or
 * a W3C traceparent of that trace (the agent may choose its span id and flags, 20 hex digits). These are new on every
 * request, so DLP's memory of values never helps, and reading them was a quarter of what a request's event cost
 * (docs/benchmarks.md). Nothing is lost: no DLP detector finds a secret in lower-case hex and dashes (a test keeps
 * that true: test/security/trace-headers.test.ts), and a trace that is not Moat's shape gets no pass. Events
 * (hops/events/redact.ts) and moat-policy's DLP (hops/policy/engine.ts) both leave such headers unread.
 */
export function carriesTraceOnly(name: string, value: string | string[], trace: string): boolean {
  if (typeof value !== 'string' || !TRACE_ID.test(trace)) return false;
  if (name === 'x-moat-trace') return value === trace;
  return name === 'traceparent' && TRACEPARENT.exec(value)?.[1] === trace;
}
