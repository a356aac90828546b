// Collects the events of each trace as they arrive from NATS and hands back a summary once the
// trace is finished. Pure: the caller passes the time, so completion and eviction are tested
// without clocks or sockets. State is bounded: unfinished traces time out, and there is a cap.
import type { MoatEvent } from '../../schemas/generated/event';
import type { PriceTable } from '../providers/prices';
import { TraceEvents, digestOf, isSettled } from './trace-events';
import { summarizeTrace, type TraceSummary } from './trace-summary';

export interface AggregatorOptions {
  /** The innermost boundary that records: N (egress), or N-1 when the last hop dials destinations itself. */
  lastBoundary: number;
  prices: PriceTable;
  /**
   * After boundary 0's response (the agent has its answer) the events of inner boundaries may still be on their way:
   * each process publishes on its own. A trace that is not visibly complete is summarized this long after.
   */
  settleMs?: number;
  /**
   * A trace whose agent never got an answer this long after its first event is dropped (a stream that never ended, lost
   * events).
   */
  timeoutMs?: number;
  /** At most this many unfinished traces; the oldest gives way. */
  maxTraces?: number;
  /** How many finished trace ids are remembered, so a late event does not open a trace that never finishes. */
  rememberFinished?: number;
}

export const AGGREGATOR_DEFAULTS = {
  settleMs: 1000,
  timeoutMs: 15 * 60_000,
  maxTraces: 10_000,
  rememberFinished: 10_000,
} as const;

export interface GapSeen {
  hop: number;
  hopName: string;
  dropped: number;
}

export interface AggregatorOutput {
  traces: TraceSummary[];
  /** Unfinished traces given up: timed out, or pushed out by the cap. */
  dropped: { timeout: number; capacity: number };
  /** Gap records: events a process could not publish. */
  gaps: GapSeen[];
}

interface PendingTrace {
  events: TraceEvents;
  firstSeen: number;
  /** When boundary 0's response arrived. */
  answeredAt?: number;
}

export class TraceAggregator {
  private readonly o: Required<AggregatorOptions>;
  private readonly pending = new Map<string, PendingTrace>();
  /** Traces whose boundary 0 response has arrived: checked on every drain. */
  private readonly answered = new Set<string>();
  private readonly finished = new Map<string, true>();
  private out: AggregatorOutput = emptyOutput();

  constructor(options: AggregatorOptions) {
    this.o = { ...AGGREGATOR_DEFAULTS, ...options };
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  add(event: MoatEvent, now: number): void {
    if (event?.direction === 'gap') {
      if (typeof event.gap === 'number' && event.gap > 0)
        this.out.gaps.push({ hop: event.hop, hopName: String(event.hop_name ?? ''), dropped: event.gap });
      return;
    }
    const digest = digestOf(event);
    if (!digest || this.finished.has(event.trace)) return;
    let trace = this.pending.get(event.trace);
    if (!trace) {
      if (this.pending.size >= this.o.maxTraces) this.evictOldest();
      trace = { events: new TraceEvents(), firstSeen: now };
      this.pending.set(event.trace, trace);
    }
    trace.events.add(digest);
    if (digest.boundary === 0 && digest.direction === 'response' && trace.answeredAt === undefined) {
      trace.answeredAt = now;
      this.answered.add(event.trace);
    }
  }

  /** Summaries of the traces finished by `now`, and what was given up since the last drain. */
  drain(now: number): AggregatorOutput {
    for (const id of this.answered) {
      const trace = this.pending.get(id)!;
      if (isSettled(trace.events, this.o.lastBoundary) || now - trace.answeredAt! >= this.o.settleMs) this.finish(id);
    }
    // The map keeps insertion order, which is the order of first events: stop at the first one still young.
    for (const [id, trace] of this.pending) {
      if (now - trace.firstSeen < this.o.timeoutMs) break;
      if (trace.answeredAt !== undefined) continue;
      this.forget(id);
      this.out.dropped.timeout++;
    }
    const out = this.out;
    this.out = emptyOutput();
    return out;
  }

  /** At shutdown: every answered trace is summarized now, without waiting for late inner events. */
  flush(): AggregatorOutput {
    for (const id of this.answered) this.finish(id);
    const out = this.out;
    this.out = emptyOutput();
    return out;
  }

  private evictOldest(): void {
    const [id, trace] = this.pending.entries().next().value as [string, PendingTrace];
    // An answered trace has what matters; summarize it early rather than lose it.
    if (trace.answeredAt !== undefined) return this.finish(id);
    this.forget(id);
    this.out.dropped.capacity++;
  }

  private finish(id: string): void {
    const trace = this.pending.get(id)!;
    this.out.traces.push(summarizeTrace(id, trace.events, this.o.lastBoundary, this.o.prices));
    this.forget(id);
  }

  private forget(id: string): void {
    this.pending.delete(id);
    this.answered.delete(id);
    this.finished.set(id, true);
    if (this.finished.size > this.o.rememberFinished) this.finished.delete(this.finished.keys().next().value as string);
  }
}

function emptyOutput(): AggregatorOutput {
  return { traces: [], dropped: { timeout: 0, capacity: 0 }, gaps: [] };
}
