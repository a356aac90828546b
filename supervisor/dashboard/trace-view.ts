// One request across every boundary, and at each hop what it changed: the events of one trace
// paired by `moat chain tap`'s TapPairer, with header values beside the names; for a WebSocket, each boundary's
// frames and its close. Pure.
import type { MoatEvent } from '../../schemas/generated/event';
import { TapPairer, headerChanges, type TapRecord } from '../ledger/tap-view';
import { requestRow, type HopRef, type RequestRow } from './stats';

export interface HeaderDiff {
  name: string;
  change: 'added' | 'removed' | 'changed';
  before?: string;
  after?: string;
}

export interface HopDiff extends HopRef {
  /** tap's record: statuses, latency added, bytes, body JSON diff, decision. */
  record: TapRecord;
  /** From what went into the hop to what came out, on the way out (request) and back (response). */
  request_headers: HeaderDiff[];
  response_headers: HeaderDiff[];
}

export interface BoundaryView {
  boundary: number;
  /** The hop this boundary leads into (egress for the last). */
  hop: number;
  hop_name: string;
  request?: MoatEvent;
  /** A WebSocket connection's response event carries `websocket`: how it closed, bytes and frames each way. */
  response?: MoatEvent;
  /** A WebSocket connection: the frames this boundary listed, in order (the first MAX_TRACE_FRAMES). */
  frames?: BoundaryFrames;
}

export interface BoundaryFrames {
  list: NonNullable<MoatEvent['frames']>;
  /** Frames the frames events counted but did not list (over 256 a second). */
  dropped: number;
  /** Frames listed in the events but not here (past MAX_TRACE_FRAMES). */
  more: number;
}

/** Frames a boundary shows at most in the trace view (a page lists them as rows). */
export const MAX_TRACE_FRAMES = 500;

/** The frames of one boundary's frames events, in time order. */
function boundaryFrames(here: readonly MoatEvent[]): BoundaryFrames | undefined {
  const events = here.filter((e) => e.direction === 'frames');
  if (events.length === 0) return undefined;
  const all = events.flatMap((e) => e.frames ?? []).sort((a, b) => a.at_ms - b.at_ms);
  return {
    list: all.slice(0, MAX_TRACE_FRAMES),
    dropped: events.reduce((n, e) => n + (e.frames_dropped ?? 0), 0),
    more: Math.max(0, all.length - MAX_TRACE_FRAMES),
  };
}

export interface TraceView {
  trace: string;
  row: RequestRow;
  boundaries: BoundaryView[];
  /** Hops 1..N that saw the request; egress's own changes (credentials) happen after its recording. */
  hops: HopDiff[];
}

export function headerDiff(from: Record<string, string> = {}, to: Record<string, string> = {}): HeaderDiff[] {
  const c = headerChanges(from, to);
  return [
    ...c.added.map((name): HeaderDiff => ({ name, change: 'added', after: to[name] })),
    ...c.removed.map((name): HeaderDiff => ({ name, change: 'removed', before: from[name] })),
    ...c.changed.map((name): HeaderDiff => ({ name, change: 'changed', before: from[name], after: to[name] })),
  ];
}

/** hops: the chain's hops 1..N+1 (egress last). Undefined when there is no event of the trace. */
export function traceView(trace: string, events: readonly MoatEvent[], hops: readonly HopRef[]): TraceView | undefined {
  const mine = events.filter((e) => e.trace === trace && e.direction !== 'gap');
  if (mine.length === 0) return undefined;
  const at = (hop: number, direction: string) => mine.find((e) => e.hop === hop && e.direction === direction);

  const boundaries = [...new Set(mine.map((e) => e.boundary))]
    .sort((a, b) => a - b)
    .map((boundary): BoundaryView => {
      const here = mine.filter((e) => e.boundary === boundary);
      const frames = boundaryFrames(here);
      return {
        boundary,
        hop: here[0].hop,
        hop_name: here[0].hop_name,
        request: here.find((e) => e.direction === 'request'),
        response: here.find((e) => e.direction === 'response'),
        ...(frames ? { frames } : {}),
      };
    });

  const egress = Math.max(...hops.map((h) => h.hop));
  const diffs: HopDiff[] = [];
  for (const h of hops) {
    if (h.hop >= egress || !at(h.hop, 'request')) continue;
    const pairer = new TapPairer(h.hop);
    let record: TapRecord | undefined;
    for (const e of mine) record = pairer.add(e) ?? record;
    // Everything of this trace is here already: what has no after side will not get one.
    record ??= pairer.flush(Infinity)[0];
    if (!record) continue; // no response at this hop yet
    diffs.push({
      hop: h.hop,
      name: h.name,
      record,
      request_headers: at(h.hop + 1, 'request')
        ? headerDiff(at(h.hop, 'request')!.headers, at(h.hop + 1, 'request')!.headers)
        : [],
      response_headers: at(h.hop + 1, 'response')
        ? headerDiff(at(h.hop + 1, 'response')!.headers, at(h.hop, 'response')?.headers)
        : [],
    });
  }
  return { trace, row: requestRow(mine), boundaries, hops: diffs };
}
