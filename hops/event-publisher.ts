// Publishes events to JetStream without ever holding up traffic: publish() only appends to a
// bounded queue (and, with a spool, to a file, so a killed process loses none: event-spool.ts);
// a pump sends with a bounded number in flight. When the queue is full the event is dropped and
// counted, and the count is published as a gap event once there is room.
import { connect, type NatsConnection, type JetStreamClient } from 'nats';
import type { MoatEvent } from '../schemas/generated/event';
import { SUBJECTS } from './subjects';
import { gapEvent } from './boundary-events';
import { EventSpool, type SpoolSegment } from './event-spool';

const MAX_IN_FLIGHT = 256;
const FLUSH_MS = 20;
const encoder = new TextEncoder();

/** An event waiting for NATS: its bytes as they are published (and spooled), and its place in the spool. */
interface Queued {
  event: MoatEvent;
  data: Uint8Array;
  segment?: SpoolSegment;
}

export interface PublisherOptions {
  natsUrl: string;
  queueSize: number;
  chain: string;
  hop: number;
  hopName: string;
  boundary: number;
  log: (line: string) => void;
  /** A directory of this process alone where events wait on disk until NATS has stored them. */
  spoolDir?: string;
}

export class EventPublisher {
  private readonly queue: Queued[] = [];
  private readonly spool?: EventSpool;
  private inFlight = 0;
  private dropped = 0;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private closed = false;
  private flushTimer?: NodeJS.Timeout;
  published = 0;

  constructor(private readonly o: PublisherOptions) {
    if (o.spoolDir) this.spool = new EventSpool(o.spoolDir, o.log);
  }

  /** Connects in the background, retrying for ever; traffic flows meanwhile. First queues what a killed predecessor left. */
  start(): void {
    this.recover();
    connect({ servers: this.o.natsUrl, name: `moat-${this.o.chain}-${this.o.hop}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true })
      .then((nc) => {
        if (this.closed) return void nc.close();
        this.nc = nc;
        this.js = nc.jetstream();
        this.pump();
        (async () => {
          for await (const s of nc.status()) if (s.type === 'reconnect') this.pump();
        })().catch(() => undefined);
      })
      .catch((err: Error) => this.o.log(`events: cannot connect to ${this.o.natsUrl}: ${err.message}`));
  }

  publish(event: MoatEvent): void {
    if (this.queue.length >= this.o.queueSize) {
      this.dropped++;
      return;
    }
    this.enqueue(event);
    // Send in bursts: one socket write and one batch of acks per FLUSH_MS instead of a wake-up per event,
    // which on a small machine costs the chain more than the events themselves.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.pump();
    }, FLUSH_MS);
  }

  private pump(): void {
    const js = this.js;
    if (!js || this.nc?.isClosed()) return;
    if (this.dropped > 0 && this.queue.length < this.o.queueSize) {
      this.enqueue(gapEvent(this.o, this.dropped));
      this.dropped = 0;
    }
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const item = this.queue.shift()!;
      const { event } = item;
      this.inFlight++;
      const subject = SUBJECTS.event(event.chain, event.hop, event.direction);
      js.publish(subject, item.data, { msgID: event.id, timeout: 5000 }).then(
        () => {
          this.inFlight--;
          this.published++;
          this.spool?.release(item.segment);
          this.pump();
        },
        () => {
          // Not stored (NATS away or slow): put it back; the msgID makes a retry harmless.
          this.inFlight--;
          if (this.queue.length < this.o.queueSize) this.queue.unshift(item);
          else {
            this.dropped++;
            this.spool?.release(item.segment);
          }
          setTimeout(() => this.pump(), 250);
        },
      );
    }
  }

  private enqueue(event: MoatEvent): void {
    const text = JSON.stringify(event);
    this.queue.push({ event, data: encoder.encode(text), segment: this.spool?.append(text) });
  }

  /** The events a previous run of this process spooled and NATS may not have stored: sent again. */
  private recover(): void {
    const left = this.spool?.recover() ?? [];
    if (left.length > 0) this.o.log(`events: ${left.length} event(s) left by the previous run of this process; sending them again`);
    for (const { text, segment } of left) {
      if (this.queue.length >= this.o.queueSize) {
        this.dropped++;
        this.spool!.release(segment);
        continue;
      }
      this.queue.push({ event: JSON.parse(text) as MoatEvent, data: encoder.encode(text), segment });
    }
  }

  /** Waits (bounded) for queued events to be stored, then disconnects. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pump();
    const deadline = Date.now() + timeoutMs;
    while (this.js && (this.queue.length > 0 || this.inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    // What NATS has not stored by now stays in the spool for the next run.
    this.spool?.close();
    await this.nc?.close().catch(() => undefined);
  }
}
