// Publishes events to JetStream without ever holding up traffic: publish() only appends to a
// bounded queue; a pump sends them in bursts (hops/event-wire.ts: one message and one ack per
// burst) with a bounded number in flight. When the queue is full the event is dropped and counted,
// and the count is published as a gap event once there is room.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection, type JetStreamClient } from 'nats';
import type { MoatEvent } from '../schemas/generated/event';
import { SUBJECTS } from './subjects';
import { gapEvent } from './boundary-events';
import { encodeEvents, MAX_BURST_BYTES } from './event-wire';

const MAX_IN_FLIGHT = 16;
const FLUSH_MS = 20;

export interface PublisherOptions {
  natsUrl: string;
  queueSize: number;
  chain: string;
  hop: number;
  hopName: string;
  boundary: number;
  log: (line: string) => void;
}

/** Events sent as one message; a retry keeps the id, so JetStream stores the burst once. */
interface Burst {
  id: string;
  texts: string[];
}

export class EventPublisher {
  private readonly queue: string[] = [];
  /** Bursts NATS did not confirm, sent again first and in order. */
  private readonly retry: Burst[] = [];
  private retryCount = 0;
  private inFlight = 0;
  private dropped = 0;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private closed = false;
  private flushTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  /** Events NATS confirmed. */
  published = 0;

  constructor(private readonly o: PublisherOptions) {}

  /** Connects in the background, retrying for ever; traffic flows meanwhile. */
  start(): void {
    // noAsyncTraces: nats.js would otherwise make an Error (with a stack) per publish in case it times out.
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

  private get held(): number {
    return this.queue.length + this.retryCount;
  }

  publish(event: MoatEvent): void {
    if (this.held >= this.o.queueSize) {
      this.dropped++;
      return;
    }
    this.queue.push(JSON.stringify(event));
    // Send in bursts: one message and one ack per FLUSH_MS instead of one per event, which on a small machine
    // costs the chain more than the events themselves.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.pump();
    }, FLUSH_MS);
  }

  /** The next burst: waiting retries first, else as many queued events as fit MAX_BURST_BYTES (at least one). */
  private nextBurst(): Burst | undefined {
    const again = this.retry.shift();
    if (again) {
      this.retryCount -= again.texts.length;
      return again;
    }
    if (this.queue.length === 0) return undefined;
    const texts: string[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && (texts.length === 0 || bytes + this.queue[0].length < MAX_BURST_BYTES)) {
      const text = this.queue.shift()!;
      bytes += text.length + 1;
      texts.push(text);
    }
    return { id: randomBytes(12).toString('hex'), texts };
  }

  private pump(): void {
    const js = this.js;
    if (!js || this.nc?.isClosed()) return;
    if (this.dropped > 0 && this.held < this.o.queueSize) {
      this.queue.push(JSON.stringify(gapEvent(this.o, this.dropped)));
      this.dropped = 0;
    }
    let burst: Burst | undefined;
    while (this.inFlight < MAX_IN_FLIGHT && (burst = this.nextBurst())) {
      const sent = burst;
      this.inFlight++;
      js.publish(SUBJECTS.burst(this.o.chain, this.o.hop), encodeEvents(sent.texts), { msgID: sent.id, timeout: 5000 }).then(
        () => {
          this.inFlight--;
          this.published += sent.texts.length;
          this.pump();
        },
        () => {
          // Not stored (NATS away or slow): sent again later under the same id, so a late ack cannot double it.
          this.inFlight--;
          this.retry.push(sent);
          this.retryCount += sent.texts.length;
          this.retryTimer ??= setTimeout(() => {
            this.retryTimer = undefined;
            this.pump();
          }, 250);
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
    while (this.js && (this.held > 0 || this.inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.closed = true;
    await this.nc?.close().catch(() => undefined);
  }
}

