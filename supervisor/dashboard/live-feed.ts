// The dashboard's events, read from NATS only while someone looks. A subscription costs the dashboard and
// nats-server a share of every request the chain passes (0.2-0.3 ms CPU a request at c=32, docs/benchmarks.md),
// while most of the time nobody has the page open. So the feed subscribes when a page, its live stream or an API
// request arrives, fills the book from the ledger as the dashboard's start used to, and unsubscribes once nothing has
// looked for IDLE_MS and no live stream is open. The ledger is read twice: events still on their way into it when
// the subscription began (published before it, committed after the first read) are in the second read.
// A central ledger (`events.ledger: central`) is not readable here, so the feed then stays subscribed from the start.
import type { NatsConnection, Subscription } from 'nats';
import type { MoatEvent } from '../../schemas/generated/event';
import { decodeEvents } from '../../hops/events/wire';
import { isEvent } from '../ledger/writer';
import type { RequestBook } from './request-book';
import type { LiveHub } from './sse';

/** How long the feed stays subscribed after the last page or API request (an open live stream keeps it). */
export const IDLE_MS = 60_000;
/** When the ledger is read the second time: well past the hops' 100 ms bursts and the writer's commit. */
export const SECOND_READ_MS = 1500;

export interface LiveFeedOptions {
  nc: NatsConnection;
  subject: string;
  book: RequestBook;
  live: LiveHub;
  /** The newest events of the ledger, oldest first, without bodies; [] when there is none here. */
  history: () => Promise<MoatEvent[]>;
  /** Subscribed for good (a central ledger: nothing to catch up from). */
  always: boolean;
  log: (line: string) => void;
  idleMs?: number;
  secondReadMs?: number;
}

export class LiveFeed {
  private sub?: Subscription;
  private ready?: Promise<void>;
  private lastViewed = 0;
  private readonly idleCheck: NodeJS.Timeout;
  private secondRead?: NodeJS.Timeout;

  constructor(private readonly o: LiveFeedOptions) {
    const idleMs = o.idleMs ?? IDLE_MS;
    this.idleCheck = setInterval(() => this.stopIfIdle(idleMs), Math.min(idleMs, 5000));
    this.idleCheck.unref();
    if (o.always) void this.viewed();
  }

  /** Whether events are being read now. */
  get subscribed(): boolean {
    return this.sub !== undefined;
  }

  /** Someone looks: reads events from now on; resolves once the book holds what the ledger had. */
  viewed(now = Date.now()): Promise<void> {
    this.lastViewed = now;
    if (!this.sub) this.ready = this.start();
    return this.ready!;
  }

  private async start(): Promise<void> {
    const sub = this.o.nc.subscribe(this.o.subject);
    this.sub = sub;
    this.read(sub);
    // After a quiet spell the book is what the ledger says, as at the dashboard's start (ids dedupe the overlap).
    this.o.book.clear();
    await this.o.nc.flush().catch(() => undefined);
    await this.fromLedger();
    clearTimeout(this.secondRead);
    this.secondRead = setTimeout(() => void this.fromLedger(), this.o.secondReadMs ?? SECOND_READ_MS);
    this.secondRead.unref();
  }

  private read(sub: Subscription): void {
    (async () => {
      for await (const m of sub) {
        // One event or a burst of them (hops/events/wire.ts).
        for (const { value: event } of decodeEvents(m.data)) {
          if (!isEvent(event) || this.o.book.has(event.id)) continue;
          this.o.live.publish(event, this.o.book.add(event));
        }
      }
    })().catch((err: Error) => this.o.log(`dashboard: subscription ended: ${err.message}`));
  }

  private async fromLedger(): Promise<void> {
    try {
      for (const e of await this.o.history()) this.o.book.add(e);
    } catch (err) {
      this.o.log(`dashboard: no history from the ledger yet: ${(err as Error).message}`);
    }
  }

  private stopIfIdle(idleMs: number, now = Date.now()): void {
    if (!this.sub || this.o.always || this.o.live.size > 0 || now - this.lastViewed < idleMs) return;
    this.sub.unsubscribe();
    this.sub = undefined;
    this.ready = undefined;
    clearTimeout(this.secondRead);
  }

  close(): void {
    clearInterval(this.idleCheck);
    clearTimeout(this.secondRead);
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}
