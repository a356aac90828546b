// The events of one trace as metrics need them: a digest per boundary and direction (never
// headers, bodies or paths), and whether every event the request will produce is in (pure).
import type { MoatEvent } from '../../schemas/generated/event';
import { streamOf } from '../providers/stream-health';
import type { StreamHealth } from '../providers/sse-watch';

/** The fields of one event that metrics need (never headers, bodies or paths). */
export interface EventDigest {
  boundary: number;
  /** The hop the boundary leads into, and its name: boundary k-1 carries hop k's. */
  hop: number;
  hopName: string;
  direction: 'request' | 'response';
  method?: string;
  host?: string;
  status?: number;
  elapsedMs?: number;
  ttfbMs?: number;
  decision?: string;
  rule?: string;
  error?: string;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  /** Requests: the cacheable prefix's hash (providers/cache-prefix.ts). */
  cachePrefix?: string;
  /** SSE responses: the stream health (counts, times and digests only). */
  stream?: StreamHealth;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** The digest of a request or response event; undefined for gap records and anything that is not an event. */
export function digestOf(e: MoatEvent): EventDigest | undefined {
  if (!e || typeof e.trace !== 'string' || !e.trace || !Number.isInteger(e.boundary)) return undefined;
  if (e.direction !== 'request' && e.direction !== 'response') return undefined;
  const provider = (e.provider ?? {}) as Record<string, unknown>;
  return {
    boundary: e.boundary,
    hop: e.hop,
    hopName: String(e.hop_name ?? ''),
    direction: e.direction,
    method: str(e.method),
    host: str(e.host),
    status: num(e.status),
    elapsedMs: num(e.elapsed_ms),
    ttfbMs: num(e.ttfb_ms),
    decision: str(e.decision),
    rule: str(e.rule),
    error: str(e.error),
    model: str(provider.model),
    inputTokens: num(provider.input_tokens),
    outputTokens: num(provider.output_tokens),
    cachePrefix: str(provider.cache_prefix),
    stream: streamOf(e),
  };
}

/** The events of one trace, by boundary. */
export class TraceEvents {
  private readonly byKey = new Map<string, EventDigest>();

  /** Keeps the first event per boundary and direction: a redelivered publish repeats one. */
  add(d: EventDigest): boolean {
    const key = `${d.boundary}:${d.direction}`;
    if (this.byKey.has(key)) return false;
    this.byKey.set(key, d);
    return true;
  }

  get(boundary: number, direction: 'request' | 'response'): EventDigest | undefined {
    return this.byKey.get(`${boundary}:${direction}`);
  }

  /** The innermost boundary with any event; -1 when empty. */
  get deepest(): number {
    let max = -1;
    for (const d of this.byKey.values()) max = Math.max(max, d.boundary);
    return max;
  }

  all(): EventDigest[] {
    return [...this.byKey.values()];
  }
}

/**
 * The process at this boundary answered the request itself (a deny, or a failure it reports), so nothing went further.
 */
export function answeredHere(response: EventDigest): boolean {
  // client_aborted travels inwards: the boundaries after this one may still report.
  return response.decision === 'deny' || (response.error !== undefined && response.error !== 'client_aborted');
}

/** Every boundary up to the deepest one has its response, and the deepest one is the last or answered itself. */
export function isSettled(events: TraceEvents, lastBoundary: number): boolean {
  const deepest = events.deepest;
  if (deepest < 0) return false;
  for (let b = 0; b <= deepest; b++) if (!events.get(b, 'response')) return false;
  return deepest >= lastBoundary || answeredHere(events.get(deepest, 'response')!);
}
