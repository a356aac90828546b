// The dashboard's memory: the events of the most recent requests, by trace, each request's row kept
// up to date as its events arrive (from the ledger, then live from NATS while someone looks: live-feed.ts).
// Bodies are not kept (5000 requests of 64 KiB bodies at every boundary would be gigabytes): the ledger has
// them. No I/O.
import type { MoatEvent } from '../../schemas/generated/event';
import {
  requestRow,
  matchesRequest,
  hopStats,
  denials,
  type RequestRow,
  type HopRef,
  type Filter,
  type HopStats,
  type DenialRow,
} from './stats';

export const BOOK_CAPACITY = 5000;

export interface DashboardStats {
  /** The statistics cover the requests in memory: the most recent `capacity`. */
  window: { requests: number; capacity: number; since?: string };
  totals: {
    requests: number;
    done: number;
    errors: number;
    denials: number;
    would_deny: number;
    gap_events_dropped: number;
  };
  hops: HopStats[];
  denials: DenialRow[];
}

export class RequestBook {
  private readonly traces = new Map<string, { events: MoatEvent[]; row: RequestRow }>();
  private readonly ids = new Set<string>();
  private dropped = 0;

  constructor(
    readonly hops: readonly HopRef[],
    readonly capacity = BOOK_CAPACITY,
  ) {}

  /** Forgets every request (the live feed refills the book from the ledger after a quiet spell). */
  clear(): void {
    this.traces.clear();
    this.ids.clear();
    this.dropped = 0;
  }

  /** Whether the event is in memory already (history and live overlap at start). */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** The request's new row; undefined for an event seen before (history and live overlap) or a gap record. */
  add(event: MoatEvent): RequestRow | undefined {
    // A WebSocket's frames change nothing of its row and may come for hours: the trace view reads them from the ledger.
    if (event.direction === 'frames' || this.ids.has(event.id)) return undefined;
    this.ids.add(event.id);
    if (event.direction === 'gap') {
      this.dropped += event.gap ?? 0;
      return undefined;
    }
    const entry = this.traces.get(event.trace);
    const events = entry?.events ?? [];
    const { body: _body, ...withoutBody } = event;
    events.push(withoutBody);
    const row = requestRow(events);
    this.traces.set(event.trace, { events, row });
    if (!entry && this.traces.size > this.capacity) this.evictOldest();
    return row;
  }

  private evictOldest(): void {
    const [trace, oldest] = this.traces.entries().next().value as [string, { events: MoatEvent[] }];
    this.traces.delete(trace);
    for (const e of oldest.events) this.ids.delete(e.id);
  }

  /** The trace's events as kept here: without bodies. */
  events(trace: string): MoatEvent[] {
    return this.traces.get(trace)?.events ?? [];
  }

  /** Newest first. */
  rows(filter: Filter = {}, limit = Infinity): RequestRow[] {
    const rows = [...this.traces.values()].map((t) => t.row).filter((r) => matchesRequest(r, filter));
    return rows.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0)).slice(0, limit);
  }

  stats(): DashboardStats {
    const rows = [...this.traces.values()].map((t) => t.row);
    return {
      window: { requests: rows.length, capacity: this.capacity, since: rows.map((r) => r.time).sort()[0] },
      totals: {
        requests: rows.length,
        done: rows.filter((r) => r.done).length,
        errors: rows.filter((r) => r.error && r.decision !== 'deny').length,
        denials: rows.filter((r) => r.decision === 'deny').length,
        would_deny: rows.filter((r) => r.decision === 'would_deny').length,
        gap_events_dropped: this.dropped,
      },
      hops: hopStats(
        [...this.traces.values()].map((t) => t.events),
        this.hops,
      ),
      denials: denials(rows, 50),
    };
  }
}
