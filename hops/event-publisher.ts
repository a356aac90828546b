// Publishes events to JetStream without ever holding up traffic: publish() only appends to a
// bounded queue; a pump sends with a bounded number in flight. When the queue is full the
// event is dropped and counted, and the count is published as a gap event once there is room.
import { connect, JSONCodec, type NatsConnection, type JetStreamClient } from 'nats';
import type { MoatEvent } from '../schemas/generated/event';
import { SUBJECTS } from './subjects';
import { gapEvent } from './boundary-events';

const MAX_IN_FLIGHT = 256;
const FLUSH_MS = 20;
const codec = JSONCodec<MoatEvent>();

export interface PublisherOptions {
  natsUrl: string;
  queueSize: number;
  chain: string;
  hop: number;
  hopName: string;
  boundary: number;
  log: (line: string) => void;
}

export class EventPublisher {
  private readonly queue: MoatEvent[] = [];
  private inFlight = 0;
  private dropped = 0;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private closed = false;
  private flushTimer?: NodeJS.Timeout;
  published = 0;

  constructor(private readonly o: PublisherOptions) {}

  /** Connects in the background, retrying for ever; traffic flows meanwhile. */
  start(): void {
    connect({ servers: this.o.natsUrl, name: `moat-${this.o.chain}-${this.o.hop}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true, noAsyncTraces: true })
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
    this.queue.push(event);
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
      this.queue.push(gapEvent(this.o, this.dropped));
      this.dropped = 0;
    }
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const event = this.queue.shift()!;
      this.inFlight++;
      const subject = SUBJECTS.event(event.chain, event.hop, event.direction);
      withoutStacks(() => js.publish(subject, codec.encode(event), { msgID: event.id, timeout: 5000 })).then(
        () => {
          this.inFlight--;
          this.published++;
          this.pump();
        },
        () => {
          // Not stored (NATS away or slow): put it back; the msgID makes a retry harmless.
          this.inFlight--;
          if (this.queue.length < this.o.queueSize) this.queue.unshift(event);
          else this.dropped++;
          setTimeout(() => this.pump(), 250);
        },
      );
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
    await this.nc?.close().catch(() => undefined);
  }
}

/**
 * nats.js makes Error objects for every request up front (the timeout it may never need, the request's own
 * context), and capturing their stack traces was a quarter of a link's CPU (profiled: NatsError and
 * prepareStackTrace, 20% of egress at c=32). Errors made while publishing carry no stack; ours never print one.
 */
function withoutStacks<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
