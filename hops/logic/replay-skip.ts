// `moat chain replay --skip-hop N` and `bisect`: a replayed request asks the Moat process of hop N (the built-in hop,
// or the link in front of a third-party hop) to send it on without the hop. The ask is a header only the holder of the
// chain's skip key (the supervisor's replay, `<state>/links/replay-skip.token`, 0600) can make: an HMAC over the hop,
// the request's trace and an expiry. The agent and the hops never hold the key, so they can forge no skip; one seen
// in passing is good for that trace, that hop, once, for two minutes. A policy hop's process has no key: never skipped.
// Pure; the link server checks and strips the header (hops/runtime/link-server.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The ask, on a replayed request: `<hop>:<expires ms>:<hmac hex>`. */
export const SKIP_HEADER = 'x-moat-skip-hop';
/** On the response of a request whose hop was skipped: that hop's number, so the replay knows it happened. */
export const SKIPPED_HEADER = 'x-moat-skipped-hop';
/** How long an ask stays good: a replay goes through the chain in well under that. */
export const SKIP_VALID_MS = 120_000;

const FORM = /^(\d{1,4}):(\d{1,15}):([0-9a-f]{64})$/;

function mac(key: string, hop: number, trace: string, expires: number): Buffer {
  return createHmac('sha256', key).update(`moat-skip-hop:${hop}:${trace}:${expires}`).digest();
}

/** The header value asking hop `hop` to be skipped for the request with trace `trace`. */
export function skipAsk(key: string, hop: number, trace: string, now: number): string {
  const expires = now + SKIP_VALID_MS;
  return `${hop}:${expires}:${mac(key, hop, trace, expires).toString('hex')}`;
}

/** What a process does with a request's skip header. */
export type SkipCheck =
  /** No ask, or one for another hop (passed on untouched). */
  | { kind: 'none' }
  /** This process sends the request on without its hop. */
  | { kind: 'skip' }
  /** An ask for this hop that does not hold: the request goes through the hop, and the refusal is logged. */
  | { kind: 'refused'; reason: string };

export interface SkipContext {
  /** This process's hop number. */
  hop: number;
  /** The skip key; undefined where the hop may not be skipped (a policy hop, ingress, egress). */
  key?: string;
  /** Why this hop may not be skipped when there is no key (logged). */
  notSkippable?: string;
  trace: string;
  /** Only a trace the request carried itself: one inferred after a hop that dropped headers proves nothing. */
  exact: boolean;
  now: number;
}

export function checkSkip(value: string | string[] | undefined, c: SkipContext): SkipCheck {
  if (value === undefined) return { kind: 'none' };
  if (Array.isArray(value)) return { kind: 'refused', reason: `more than one ${SKIP_HEADER} header` };
  const m = FORM.exec(value.trim());
  if (!m) return { kind: 'refused', reason: `a malformed ${SKIP_HEADER} header` };
  const hop = Number(m[1]);
  if (hop !== c.hop) return { kind: 'none' };
  if (!c.key) return { kind: 'refused', reason: c.notSkippable ?? `hop ${c.hop} is never skipped` };
  if (!c.exact) return { kind: 'refused', reason: 'the request lost its trace on the way: the ask is not bound to it' };
  const expires = Number(m[2]);
  const given = Buffer.from(m[3], 'hex');
  if (!timingSafeEqual(given, mac(c.key, hop, c.trace, expires)))
    return { kind: 'refused', reason: 'the ask is not signed with the chain skip key for this trace' };
  if (expires < c.now || expires > c.now + SKIP_VALID_MS) return { kind: 'refused', reason: 'the ask has expired' };
  return { kind: 'skip' };
}

/**
 * The traces already skipped here: an ask holds once (a hop in front that saw it cannot use it again). Bounded: the
 * oldest are forgotten first, and an ask older than SKIP_VALID_MS is refused anyway.
 */
export class SkipLedger {
  private readonly used = new Map<string, number>();
  constructor(private readonly max = 4096) {}

  /** True the first time a trace is taken within its validity. */
  take(trace: string, now: number): boolean {
    for (const [t, at] of this.used) {
      if (at + SKIP_VALID_MS >= now && this.used.size < this.max) break;
      this.used.delete(t);
    }
    if (this.used.has(trace)) return false;
    this.used.set(trace, now);
    return true;
  }
}
