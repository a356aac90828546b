// What the dashboard computes from events, all pure: one row per request (trace), the filters of
// the request list and of /_/api/events, and per hop: requests, latency added, errors, denials.
import type { MoatEvent } from '../../schemas/generated/event';

/** A hop of the chain as the events name it: 1..N the hops of proxies:, N+1 egress. */
export interface HopRef {
  hop: number;
  name: string;
}

export interface RequestRow {
  trace: string;
  /** When the first boundary saw the request. */
  time: string;
  method?: string;
  host?: string;
  path?: string;
  /** What the agent got back: the response at the first boundary that recorded this trace. */
  status?: number;
  elapsed_ms?: number;
  /** The most telling decision any hop made (deny, would_deny, log, allow, skipped). */
  decision?: string;
  decisions: string[];
  /** The hop whose event carries that decision, and its rule and reason. */
  decision_hop?: HopRef;
  rule?: string;
  reason?: string;
  /** The error where the exchange failed: the deepest boundary that recorded one. */
  error?: string;
  /** A hop that answered the request itself (a denial, or its upstream failing). */
  answered_by?: HopRef;
  /** The hops whose before-boundary saw the request (or its response). */
  hops: number[];
  correlation: string;
  replay_of?: string;
  /** false for a blind tunnel (tls.intercept). */
  intercepted?: false;
  /** The agent has its response. */
  done: boolean;
}

export interface Filter {
  host?: string;
  hop?: number;
  decision?: string;
}

// A denial says more than a would-be denial, which says more than a plain allow.
const DECISION_ORDER = ['deny', 'would_deny', 'log', 'allow', 'skipped'];
const rank = (d: string) => (DECISION_ORDER.includes(d) ? DECISION_ORDER.indexOf(d) : DECISION_ORDER.length);

const byBoundary = (a: MoatEvent, b: MoatEvent) =>
  a.boundary - b.boundary || (a.direction === b.direction ? 0 : a.direction === 'request' ? -1 : 1);

/** The row of one request, from whatever events of its trace have arrived so far (in any order). */
export function requestRow(events: readonly MoatEvent[]): RequestRow {
  const all = events.filter((e) => e.direction !== 'gap').sort(byBoundary);
  const requests = all.filter((e) => e.direction === 'request');
  const responses = all.filter((e) => e.direction === 'response');
  const first = requests[0] ?? all[0];
  const answer = responses[0];
  const decided = all.filter((e) => e.decision).sort((a, b) => rank(a.decision!) - rank(b.decision!))[0];
  const failed = [...responses].reverse().find((e) => e.error);
  const stopped = [...responses].reverse().find((e) => e.error || e.decision === 'deny');
  const ref = (e: MoatEvent): HopRef => ({ hop: e.hop, name: e.hop_name });
  return {
    trace: first.trace,
    time: all.map((e) => e.time).sort()[0],
    method: first.method,
    host: first.host,
    path: first.path,
    status: answer?.status,
    elapsed_ms: answer?.elapsed_ms,
    decision: decided?.decision,
    decisions: [...new Set(all.flatMap((e) => (e.decision ? [e.decision] : [])))],
    ...(decided?.decision ? { decision_hop: ref(decided), rule: decided.rule, reason: decided.reason } : {}),
    error: failed?.error,
    ...(stopped ? { answered_by: ref(stopped) } : {}),
    hops: [...new Set(all.map((e) => e.hop))].sort((a, b) => a - b),
    correlation: all.some((e) => e.correlation === 'unmatched')
      ? 'unmatched'
      : all.some((e) => e.correlation === 'inferred')
        ? 'inferred'
        : 'exact',
    ...(first.replay_of ? { replay_of: first.replay_of } : {}),
    ...(first.intercepted === false ? { intercepted: false as const } : {}),
    done: answer !== undefined && answer.boundary === first.boundary,
  };
}

export function matchesRequest(row: RequestRow, f: Filter): boolean {
  return (
    (!f.host || row.host === f.host) &&
    (f.hop === undefined || row.hops.includes(f.hop)) &&
    (!f.decision || row.decisions.includes(f.decision))
  );
}

/** The same filters on single events, as `moat chain events --host --hop --decision` reads them. */
export function matchesEvent(e: MoatEvent, f: Filter): boolean {
  return (
    (!f.host || e.host === f.host) &&
    (f.hop === undefined || e.hop === f.hop) &&
    (!f.decision || e.decision === f.decision)
  );
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export interface HopStats extends HopRef {
  /** Requests that reached the hop (its before-boundary recorded them). */
  requests: number;
  /** Of those, the ones whose response has passed back through it. */
  responses: number;
  /**
   * Latency the hop added (ms): its before-boundary's elapsed time minus its after-boundary's. Egress: the
   * destination's time included.
   */
  p50_ms?: number;
  p95_ms?: number;
  /**
   * Responses the hop's Moat process marked with an error (it could not reach the next hop, timed out, ...), denials
   * apart.
   */
  errors: number;
  error_rate?: number;
  denials: number;
}

const round = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 1000) / 1000);

/**
 * Per hop, over the given requests (each the events of one trace). Hop k's before is the boundary in
 * front of it (events with hop k), its after the next one (hop k+1), as `moat chain tap` pairs them.
 */
export function hopStats(traces: Iterable<readonly MoatEvent[]>, hops: readonly HopRef[]): HopStats[] {
  const acc = hops.map((h) => ({ ...h, requests: 0, responses: 0, errors: 0, denials: 0, samples: [] as number[] }));
  for (const events of traces) {
    const at = new Map<string, MoatEvent>();
    for (const e of events) if (e.direction !== 'gap') at.set(`${e.hop}:${e.direction}`, e);
    for (const a of acc) {
      if (!at.has(`${a.hop}:request`)) continue;
      a.requests++;
      const before = at.get(`${a.hop}:response`);
      if (!before) continue; // still in flight
      a.responses++;
      // A denial is the hop doing its job (its event names an error code too), not a failure.
      if (before.decision === 'deny') a.denials++;
      else if (before.error) a.errors++;
      if (before.elapsed_ms === undefined) continue;
      const after = at.get(`${a.hop + 1}:response`);
      // No after-boundary at all: the hop answered by itself (or it is egress), so all of the time is its own.
      if (after?.elapsed_ms !== undefined) a.samples.push(before.elapsed_ms - after.elapsed_ms);
      else if (!at.has(`${a.hop + 1}:request`)) a.samples.push(before.elapsed_ms);
    }
  }
  return acc.map(({ samples, ...a }) => ({
    ...a,
    p50_ms: round(percentile(samples, 50)),
    p95_ms: round(percentile(samples, 95)),
    error_rate: a.responses ? a.errors / a.responses : undefined,
  }));
}

export interface DenialRow {
  trace: string;
  time: string;
  host?: string;
  path?: string;
  status?: number;
  decision: string;
  hop?: HopRef;
  rule?: string;
  reason?: string;
}

/** Requests a hop denied, or would have in report mode, newest first. */
export function denials(rows: Iterable<RequestRow>, limit: number): DenialRow[] {
  const out: DenialRow[] = [];
  for (const r of rows) {
    if (r.decision !== 'deny' && r.decision !== 'would_deny') continue;
    out.push({
      trace: r.trace,
      time: r.time,
      host: r.host,
      path: r.path,
      status: r.status,
      decision: r.decision,
      hop: r.decision_hop,
      rule: r.rule,
      reason: r.reason,
    });
  }
  return out.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0)).slice(0, limit);
}
