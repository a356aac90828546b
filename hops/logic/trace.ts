// Trace ids: ingress gives every request a W3C traceparent (unless the agent sent one)
// and x-moat-trace, the id every later link and the ledger key on.
import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface TraceHeaders {
  trace: string;
  set: Record<string, string>;
}

export function traceFor(headers: Readonly<Record<string, string | string[] | undefined>>): TraceHeaders {
  const existing = headers['traceparent'];
  const match = typeof existing === 'string' ? TRACEPARENT.exec(existing) : null;
  if (match) return { trace: match[1], set: { 'x-moat-trace': match[1] } };
  const trace = randomBytes(16).toString('hex');
  const span = randomBytes(8).toString('hex');
  return { trace, set: { traceparent: `00-${trace}-${span}-01`, 'x-moat-trace': trace } };
}
