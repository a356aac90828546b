// The JSON API under /_/api/, for the page and for scripts: routes to answers over injected
// sources, so it is tested without sockets. The live stream (/_/api/live) is in sse.ts.
import type { MoatEvent } from '../../schemas/generated/event';
import type { RequestBook } from './request-book';
import type { EventQuery, VerifyView } from './ledger-reader';
import type { ChainView } from './chain-view';
import { traceView } from './trace-view';
import type { Filter } from './stats';

export interface DashboardSources {
  chain(): Promise<ChainView>;
  book: RequestBook;
  ledgerEvents(q: EventQuery, limit: number): Promise<MoatEvent[]>;
  verify(): Promise<VerifyView>;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

export const API_PREFIX = '/_/api/';
// Events may carry bodies of up to capture.max_body_bytes each.
const MAX_LIMIT = 1000;

class BadRequest extends Error {}

/** ?host ?hop ?decision, as `moat chain events` takes them. */
export function parseFilter(q: URLSearchParams): Filter {
  const f: Filter = {};
  const host = q.get('host');
  const hop = q.get('hop');
  const decision = q.get('decision');
  if (host) f.host = host;
  if (decision) f.decision = decision;
  if (hop !== null && hop !== '') {
    if (!/^\d+$/.test(hop)) throw new BadRequest(`hop must be a hop number, got "${hop}"`);
    f.hop = Number(hop);
  }
  return f;
}

export function parseLimit(q: URLSearchParams, fallback: number): number {
  const raw = q.get('limit');
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new BadRequest(`limit must be a positive integer, got "${raw}"`);
  return Math.min(Number(raw), MAX_LIMIT);
}

// Trace ids are 32 hex digits; a little leeway, but nothing that could mean something else in a path or a page.
export const TRACE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Undefined for a path that is not an API route (the server answers 404). */
export async function answerApi(
  path: string,
  q: URLSearchParams,
  src: DashboardSources,
): Promise<ApiAnswer | undefined> {
  if (!path.startsWith(API_PREFIX)) return undefined;
  const route = path.slice(API_PREFIX.length);
  try {
    if (route === 'chain') return ok(await src.chain());
    if (route === 'stats') return ok(src.book.stats());
    if (route === 'verify') return ok(await src.verify());
    if (route === 'requests') return ok({ requests: src.book.rows(parseFilter(q), parseLimit(q, 200)) });
    if (route === 'events') {
      const trace = q.get('trace') ?? undefined;
      if (trace !== undefined && !TRACE_ID.test(trace)) throw new BadRequest('trace is not a trace id');
      return ok({ events: await src.ledgerEvents({ ...parseFilter(q), trace }, parseLimit(q, 100)) });
    }
    if (route.startsWith('trace/')) {
      const trace = decodeURIComponent(route.slice('trace/'.length));
      if (!TRACE_ID.test(trace)) throw new BadRequest('not a trace id');
      // The ledger has what was stored, bodies included; events still on their way to it are in memory (without).
      const stored = await src.ledgerEvents({ trace }, MAX_LIMIT);
      const byId = new Map([...src.book.events(trace), ...stored].map((e) => [e.id, e]));
      const view = traceView(trace, [...byId.values()], src.book.hops);
      if (!view) return { status: 404, body: { error: 'not_found', message: `no events of trace ${trace}` } };
      // complete: every event known is in the ledger, so the body diffs are whole; the page asks again until then.
      return ok({ ...view, complete: byId.size === stored.length });
    }
  } catch (err) {
    if (err instanceof BadRequest || err instanceof URIError)
      return { status: 400, body: { error: 'bad_request', message: err.message } };
    throw err;
  }
  return undefined;
}

const ok = (body: unknown): ApiAnswer => ({ status: 200, body });
