// Publishes events to JetStream without ever holding up traffic: publish() only appends to a
// bounded queue (and, with a spool, to a file, so a killed process loses none: events/spool.ts);
// a pump sends them in bursts (hops/events/wire.ts: one message and one ack per burst) with a
// bounded number in flight. When the queue is full the event is dropped and counted, and the count
// is published as a gap event once there is room.
import { randomBytes } from 'node:crypto';
import { redactNatsUrl, natsConnection, FOLLOW_CLUSTER, type NatsIdentity } from './nats-url';
import type { NatsConnection, JetStreamClient } from 'nats';
import type { MoatEvent } from '../../schemas/generated/event';
import { SUBJECTS } from './subjects';
import { gapEvent } from './boundary-events';
import { encodeEvents, MAX_BURST_BYTES } from './wire';
import { EventSpool, type SpoolSegment, type SpoolWhen } from './spool';

const MAX_IN_FLIGHT = 16;
// How long events wait to go out together. Each burst costs its publisher a JetStream publish and ack, nats-server a
// store, and every reader (ledger writer, dashboard, moat-telemetry's metrics) a delivery: 100 ms instead of 20 ms
// took the chain's CPU per request from 4.77-5.13 to 4.43-4.46 ms at c=32, and the event readers' at c=1 by half, for
// events that reach tap and the dashboard up to 80 ms later (docs/benchmarks.md). The spool keeps them safe meanwhile.
const FLUSH_MS = 100;

/** An event waiting for NATS: its JSON as it is published (and spooled), and its place in the spool. */
interface Queued {
  text: string;
  segment?: SpoolSegment;
}

/** Events sent as one message; a retry keeps the id, so JetStream stores the burst once. */
interface Burst {
  id: string;
  items: Queued[];
}

export interface PublisherOptions {
  natsUrl: string;
  /** Its user on moat's own NATS (hop-<k>: may publish on its hop's subjects only). */
  natsIdentity?: NatsIdentity;
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
  /** Bursts NATS did not confirm, sent again first and in order. */
  private readonly retry: Burst[] = [];
  private retryCount = 0;
  private readonly spool?: EventSpool;
  private inFlight = 0;
  private dropped = 0;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private closed = false;
  private flushTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  /** Events NATS confirmed. */
  published = 0;

  constructor(private readonly o: PublisherOptions) {
    if (o.spoolDir) this.spool = new EventSpool(o.spoolDir, o.log);
  }

  /**
   * Connects in the background, retrying for ever; traffic flows meanwhile. First queues what a killed predecessor
   * left.
   */
  start(): void {
    this.recover();
    // nats.js is loaded here, not with this module: a quarter of a Moat process's start, and ingress records nothing.
    const { connect } = require('nats') as typeof import('nats');
    // noAsyncTraces: nats.js would otherwise make an Error (with a stack) per publish in case it times out.
    connect({
      ...natsConnection(this.o.natsUrl, this.o.natsIdentity),
      name: `moat-${this.o.chain}-${this.o.hop}`,
      ...FOLLOW_CLUSTER,
      waitOnFirstConnect: true,
      noAsyncTraces: true,
    })
      .then((nc) => {
        if (this.closed) return void nc.close();
        this.nc = nc;
        this.js = nc.jetstream();
        this.pump();
        (async () => {
          for await (const s of nc.status()) if (s.type === 'reconnect') this.pump();
        })().catch(() => undefined);
      })
      .catch((err: Error) => this.o.log(`events: cannot connect to ${redactNatsUrl(this.o.natsUrl)}: ${err.message}`));
  }

  private get held(): number {
    return this.queue.length + this.retryCount;
  }

  /** `when`: when the event must be in the spool (spool.ts); at once unless the caller knows it may wait. */
  publish(event: MoatEvent, when: SpoolWhen = 'now'): void {
    if (this.held >= this.o.queueSize) {
      this.dropped++;
      return;
    }
    this.enqueue(event, when);
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
      this.retryCount -= again.items.length;
      return again;
    }
    if (this.queue.length === 0) return undefined;
    const items: Queued[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && (items.length === 0 || bytes + this.queue[0].text.length < MAX_BURST_BYTES)) {
      const item = this.queue.shift()!;
      bytes += item.text.length + 1;
      items.push(item);
    }
    return { id: randomBytes(12).toString('hex'), items };
  }

  private pump(): void {
    const js = this.js;
    if (!js || this.nc?.isClosed()) return;
    if (this.dropped > 0 && this.held < this.o.queueSize) {
      this.enqueue(gapEvent(this.o, this.dropped));
      this.dropped = 0;
    }
    let burst: Burst | undefined;
    while (this.inFlight < MAX_IN_FLIGHT && (burst = this.nextBurst())) {
      const sent = burst;
      this.inFlight++;
      js.publish(SUBJECTS.burst(this.o.chain, this.o.hop), encodeEvents(sent.items.map((i) => i.text)), {
        msgID: sent.id,
        timeout: 5000,
      }).then(
        () => {
          this.inFlight--;
          this.published += sent.items.length;
          for (const item of sent.items) this.spool?.release(item.segment);
          this.pump();
        },
        () => {
          // Not stored (NATS away or slow): sent again later under the same id, so a late ack cannot double it.
          this.inFlight--;
          this.retry.push(sent);
          this.retryCount += sent.items.length;
          this.retryTimer ??= setTimeout(() => {
            this.retryTimer = undefined;
            this.pump();
          }, 250);
        },
      );
    }
  }

  private enqueue(event: MoatEvent, when: SpoolWhen = 'now'): void {
    const text = JSON.stringify(event);
    this.queue.push({ text, segment: this.spool?.append(text, when) });
  }

  /** The events a previous run of this process spooled and NATS may not have stored: sent again. */
  private recover(): void {
    const left = this.spool?.recover() ?? [];
    if (left.length > 0)
      this.o.log(`events: ${left.length} event(s) left by the previous run of this process; sending them again`);
    for (const { text, segment } of left) {
      if (this.held >= this.o.queueSize) {
        this.dropped++;
        this.spool!.release(segment);
        continue;
      }
      this.queue.push({ text, segment });
    }
  }

  /** Waits (bounded) for queued events to be stored, then disconnects. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pump();
    const deadline = Date.now() + timeoutMs;
    while (this.js && (this.held > 0 || this.inFlight > 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.closed = true;
    // What NATS has not stored by now stays in the spool for the next run.
    this.spool?.close();
    await this.nc?.close().catch(() => undefined);
  }
}
