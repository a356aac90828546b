// What one request did across the chain, worked out from its boundary events (pure: no NATS,
// no clock). Boundary k is between hop k and hop k+1; its response's elapsed_ms runs from the
// request arriving there to the end of the response, so hop k added elapsed(k-1) - elapsed(k).
import { costOf, type PriceTable } from '../providers/prices';
import { answeredHere, isSettled, type TraceEvents } from './trace-events';
import { hopStream } from '../providers/stream-health';

export interface HopLatency {
  hop: number;
  hopName: string;
  addedMs: number;
}

export interface HopRef {
  hop: number;
  hopName: string;
}

/** An SSE response at hop k: time to its first event at the boundary in front of k, and the delay hop k added. */
export interface HopFirstToken extends HopRef {
  firstEventMs: number;
  addedMs?: number;
}

export interface DecisionSeen {
  hop: number;
  hopName: string;
  decision: string;
  rule?: string;
}

export interface TraceUsage {
  /** "unknown" when no event named the model. */
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** From prices:; undefined when the model has no price (never guessed as zero). */
  cost?: number;
}

export interface TraceSummary {
  trace: string;
  method: string;
  /** The destination the agent asked for (boundary 0). */
  host: string;
  /** What the agent got (boundary 0's response); 0 when it got none. */
  status: number;
  /** deny when a hop denied the request, else allow. */
  decision: 'allow' | 'deny';
  /** upstream when the answer came from beyond the last boundary, else the name of the hop that answered itself. */
  answeredBy: string;
  ttfbMs?: number;
  durationMs?: number;
  /** Hops 1..last boundary, those whose added latency is known. */
  hops: HopLatency[];
  /** elapsed_ms at the last boundary: the destination's time plus egress's own. */
  upstreamMs?: number;
  decisions: DecisionSeen[];
  usage?: TraceUsage;
  /** Every boundary the request reached has its response. */
  complete: boolean;
  /** Hops that changed the request's cacheable prefix. */
  cachePrefixChanged: HopRef[];
  /** SSE responses: time to first event per hop. */
  firstToken: HopFirstToken[];
}

function cacheChanges(events: TraceEvents, lastBoundary: number): HopRef[] {
  const out: HopRef[] = [];
  for (let k = 1; k <= lastBoundary; k++) {
    const before = events.get(k - 1, 'request');
    const after = events.get(k, 'request')?.cachePrefix;
    if (before?.cachePrefix && after && before.cachePrefix !== after) out.push({ hop: k, hopName: before.hopName });
  }
  return out;
}

function firstTokens(events: TraceEvents, lastBoundary: number): HopFirstToken[] {
  const out: HopFirstToken[] = [];
  for (let k = 1; k <= lastBoundary + 1; k++) {
    const output = events.get(k - 1, 'response');
    if (output?.stream?.first_event_ms === undefined) continue;
    const input = events.get(k, 'response')?.stream;
    const added = input && k <= lastBoundary ? hopStream(input, output.stream).addedFirstMs : undefined;
    out.push({
      hop: k,
      hopName: output.hopName,
      firstEventMs: output.stream.first_event_ms,
      ...(added !== undefined ? { addedMs: Math.max(0, added) } : {}),
    });
  }
  return out;
}

function hopLatencies(events: TraceEvents, lastBoundary: number): HopLatency[] {
  const hops: HopLatency[] = [];
  for (let k = 1; k <= lastBoundary; k++) {
    const before = events.get(k - 1, 'response');
    if (before?.elapsedMs === undefined) continue;
    const after = events.get(k, 'response');
    if (after?.elapsedMs !== undefined) {
      // Clocks of two processes are not involved (each elapsed is measured locally), but rounding can make it -0.001.
      hops.push({ hop: k, hopName: before.hopName, addedMs: Math.max(0, before.elapsedMs - after.elapsedMs) });
      continue;
    }
    // Something reached boundary k or beyond, but k's response is missing (lost, or late): hop k's share is unknown.
    if (k <= events.deepest) continue;
    // Nothing reached boundary k: hop k answered (a deny, a cache) and took all of the time.
    hops.push({ hop: k, hopName: before.hopName, addedMs: before.elapsedMs });
    break;
  }
  return hops;
}

function decisionsOf(events: TraceEvents): DecisionSeen[] {
  const out: DecisionSeen[] = [];
  for (let b = 0; b <= events.deepest; b++) {
    const response = events.get(b, 'response');
    const request = events.get(b, 'request');
    const decision = response?.decision ?? request?.decision;
    if (!decision) continue;
    const named = response?.decision ? response : request!;
    out.push({ hop: named.hop, hopName: named.hopName, decision, ...(named.rule ? { rule: named.rule } : {}) });
  }
  return out;
}

/** The provider's usage at the innermost boundary that has it (what the provider said, before any hop changed it). */
function usageOf(events: TraceEvents, prices: PriceTable): TraceUsage | undefined {
  for (let b = events.deepest; b >= 0; b--) {
    const response = events.get(b, 'response');
    if (response?.inputTokens === undefined && response?.outputTokens === undefined) continue;
    const inputTokens = response.inputTokens ?? 0;
    const outputTokens = response.outputTokens ?? 0;
    const model = response.model ?? events.get(b, 'request')?.model ?? requestModel(events);
    const cost = costOf(prices, model, inputTokens, outputTokens);
    return { model: model ?? 'unknown', inputTokens, outputTokens, ...(cost === undefined ? {} : { cost }) };
  }
  return undefined;
}

/** The model of the innermost request that names one: what was sent to the provider. */
function requestModel(events: TraceEvents): string | undefined {
  for (let b = events.deepest; b >= 0; b--) {
    const model = events.get(b, 'request')?.model;
    if (model) return model;
  }
  return undefined;
}

function answeredByOf(events: TraceEvents, lastBoundary: number): string {
  let deepest = -1;
  for (let b = 0; b <= events.deepest; b++) if (events.get(b, 'response')) deepest = b;
  if (deepest < 0) return 'unknown';
  const response = events.get(deepest, 'response')!;
  if (deepest >= lastBoundary && !answeredHere(response)) return 'upstream';
  return response.hopName;
}

export function summarizeTrace(
  trace: string,
  events: TraceEvents,
  lastBoundary: number,
  prices: PriceTable,
): TraceSummary {
  const first = events.get(0, 'response') ?? events.get(0, 'request') ?? events.all()[0];
  const zero = events.get(0, 'response');
  const decisions = decisionsOf(events);
  const last = events.get(lastBoundary, 'response');
  const usage = usageOf(events, prices);
  return {
    trace,
    method: first?.method ?? 'unknown',
    host: first?.host ?? 'unknown',
    status: zero?.status ?? 0,
    decision: decisions.some((d) => d.decision === 'deny') ? 'deny' : 'allow',
    answeredBy: answeredByOf(events, lastBoundary),
    ...(zero?.ttfbMs !== undefined ? { ttfbMs: zero.ttfbMs } : {}),
    ...(zero?.elapsedMs !== undefined ? { durationMs: zero.elapsedMs } : {}),
    hops: hopLatencies(events, lastBoundary),
    ...(last?.elapsedMs !== undefined ? { upstreamMs: last.elapsedMs } : {}),
    decisions,
    ...(usage ? { usage } : {}),
    complete: isSettled(events, lastBoundary),
    cachePrefixChanged: cacheChanges(events, lastBoundary),
    firstToken: firstTokens(events, lastBoundary),
  };
}

/** "2xx" .. "5xx"; "none" when the agent got no status (the chain failed before answering). */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none';
}
