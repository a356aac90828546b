// The ledger writer: a durable JetStream consumer that appends every event of a chain to a
// ledger in batches (a library: the chain's own writer process below, and `moat ledger serve`
// with one writer per chain, both run it), acknowledges only after the commit (so a crash
// means redelivery, and a redelivered id is skipped), and signs a checkpoint of the head
// every CHECKPOINT_EVENTS events or CHECKPOINT_MS while new events arrive. Each signed head is also
// kept outside the ledger (ledger/head-keeper.ts), and a ledger that no longer holds it is refused.
//
// It stores only what the subject a message arrived on allows (event-origin.ts), and when it cannot
// consume (the stream or its consumer was deleted, NATS is away) it says so in a health file and,
// for the chain's own writer, makes the stream and its consumer again by itself: the hops keep their
// events spooled until JetStream stores them, so recording resumes without down/up and nothing is lost.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, sign, createPrivateKey, createPublicKey } from 'node:crypto';
import type { JsMsg, NatsConnection } from 'nats';
import { nats } from '../nats-module';
import type { MoatEvent } from '../../schemas/generated/event';
import { SUBJECTS } from '../../hops/events/subjects';
import { eventLines } from '../../hops/events/wire';
import { Ledger } from './ledger';
import { checkpointMessage } from './verify';
import { ensureStream, ensureConsumer, streamPlacement } from './stream';
import { jsFailure, type StreamPlacement } from './replicas';
import { natsConnection, redactNatsUrl, FOLLOW_CLUSTER, type NatsIdentity } from '../../hops/events/nats-url';
import { exitWithParent } from '../../hops/runtime/parent-watch';
import { originProblem } from './event-origin';
import { LedgerHealthFile } from './health';
import { HeadKeeper } from './head-keeper';
import type { SinkSpec } from '../findings/sink-spec';
import { startSinks } from '../findings/sinks';
import { findingsOf } from '../findings/finding';

// Callers that made the stream through this module before it had one of its own.
export { ensureStream } from './stream';

export interface LedgerSpec extends NatsIdentity {
  chain: string;
  natsUrl: string;
  dbFile: string;
  /** Where the writer says whether it is storing events (ledger/health.ts); status and the dashboard read it. */
  healthFile?: string;
  /** events.replicas, for the stream it makes again should it vanish (absent: the cluster's default). */
  replicas?: number;
  /** events.sinks: where the findings of the events it stores are streamed (findings/sinks.ts). */
  sinks?: SinkSpec[];
}

const BATCH = 1000;
const CHECKPOINT_EVENTS = 1000;
const CHECKPOINT_MS = 2000;
/**
 * Pause before each attempt to make a vanished stream or consumer again: a NATS that is restarting is not hammered,
 * and the failure stays visible (status, dashboard) for at least this long even when the remedy is immediate.
 */
const RECOVER_MS = 1000;
/** How often an idle writer asks whether its consumer answers (a fetch from a stream that is down comes back empty). */
const PROBE_MS = 3000;
/** A writer not consuming this long after its start says it is failing. */
const STARTING_MS = 10_000;

/** What a stream that does not answer means, from where it was last seen (pure). */
export function unavailableHint(placement: StreamPlacement | null): string {
  const where = placement?.servers?.map((s) => s.name).join(', ');
  if (placement && placement.replicas === 1)
    return (
      ` (the stream has 1 replica${where ? `, on ${where}` : ''}: with that server down its events are not ` +
      `stored anywhere; they wait in the hops' spools and are recorded when it is back; set events.replicas to ` +
      `3 to lose nothing)`
    );
  return (
    ` (the servers holding the stream${where ? `, ${where},` : ''} are down or electing a leader; recording ` +
    `resumes when it answers)`
  );
}

/** The least a message must have to be taken for an event (anyone on the machine can publish to NATS). */
export function isEvent(e: unknown): e is MoatEvent {
  const v = e as Record<string, unknown> | null;
  return (
    !!v &&
    typeof v === 'object' &&
    typeof v.id === 'string' &&
    v.id.length > 0 &&
    typeof v.trace === 'string' &&
    Number.isInteger(v.hop) &&
    Number.isInteger(v.boundary) &&
    typeof v.direction === 'string' &&
    typeof v.time === 'string' &&
    // A column of its own: SQLite's binding refuses anything but a string there, which would fail the whole batch.
    (v.host === undefined || v.host === null || typeof v.host === 'string')
  );
}

export function keyFiles(dbFile: string): { privateKey: string; publicKey: string } {
  return {
    privateKey: dbFile.replace(/\.db$/, '') + '-key.pem',
    publicKey: dbFile.replace(/\.db$/, '') + '-key.pub.pem',
  };
}

/** The Ed25519 key that signs checkpoints, created next to the ledger on first use. */
export function ensureLedgerKey(dbFile: string): string {
  const files = keyFiles(dbFile);
  if (!existsSync(files.privateKey)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    writeFileSync(files.privateKey, privateKey, { mode: 0o600 });
    writeFileSync(files.publicKey, publicKey, { mode: 0o644 });
  }
  return readFileSync(files.privateKey, 'utf8');
}

export interface WriterOptions {
  chain: string;
  /** A connection the caller owns (the per-chain process has its own, `moat ledger serve` shares one). */
  nc: NatsConnection;
  dbFile: string;
  /** The durable consumer to read with (SUBJECTS.ledgerConsumer, or the central one). */
  consumer: string;
  log: (line: string) => void;
  /** Makes the stream and the consumer again when fetching fails (the chain's own writer); absent: just retries. */
  recover?: () => Promise<void>;
  /** Told whether events are being stored. */
  health?: LedgerHealthFile;
  /** events.sinks: the findings of the events stored are handed to them (never waited for). */
  sinks?: SinkSpec[];
}

export interface LedgerWriter {
  /** Stops fetching, signs the head, closes the ledger (the connection stays the caller's). */
  stop(): Promise<void>;
  readonly headSeq: number;
}

/**
 * The chain's own writer process: its connection, the stream (it may start before `up` made it), the local consumer.
 */
export async function runLedgerWriter(
  spec: LedgerSpec,
  log: (line: string) => void,
): Promise<{ stop(): Promise<void> }> {
  const health = spec.healthFile ? new LedgerHealthFile(spec.healthFile, log) : undefined;
  // A failure a previous run reported stands until this run consumes (pm2 restarts a writer that cannot start).
  if (health?.state !== 'failing') health?.set('starting');
  // Connecting waits for NATS for ever; not consuming after STARTING_MS is a failure status shows.
  const slow = setTimeout(() => {
    if (health?.state === 'starting')
      health.set(
        'failing',
        `not consuming ${STARTING_MS / 1000} s after start: cannot connect to NATS at ` +
          `${redactNatsUrl(spec.natsUrl)} or set up stream ${SUBJECTS.stream(spec.chain)}`,
      );
  }, STARTING_MS);
  slow.unref();
  try {
    const nc = await nats().connect({
      ...natsConnection(spec.natsUrl, spec),
      name: `moat-${spec.chain}-ledger`,
      ...FOLLOW_CLUSTER,
      waitOnFirstConnect: true,
    });
    // The stream too: the writer may start before `up` made it, and makes it again should it vanish.
    const recover = async () => {
      await ensureStream(nc, spec.chain, undefined, spec.replicas);
      await ensureConsumer(nc, spec.chain, SUBJECTS.ledgerConsumer);
    };
    await recover();
    const writer = await startLedgerWriter({
      chain: spec.chain,
      nc,
      dbFile: spec.dbFile,
      consumer: SUBJECTS.ledgerConsumer,
      log,
      recover,
      health,
      sinks: spec.sinks,
    });
    return {
      async stop() {
        clearTimeout(slow);
        await writer.stop();
        await nc.drain().catch(() => undefined);
      },
    };
  } catch (err) {
    clearTimeout(slow);
    health?.set('failing', `cannot start: ${(err as Error).message}`);
    throw err;
  }
}

/** Appends the events `consumer` delivers to the ledger in `dbFile` until stopped. The consumer must exist. */
export async function startLedgerWriter(spec: WriterOptions): Promise<LedgerWriter> {
  const { nc, log } = spec;
  const key = createPrivateKey(ensureLedgerKey(spec.dbFile));
  let consumer = await nc.jetstream().consumers.get(SUBJECTS.stream(spec.chain), spec.consumer);
  // Where the stream was last seen answering: said when it stops (with one replica, its server is the one down).
  let placement = await streamPlacement(nc, spec.chain).catch(() => null);
  const ledger = await Ledger.open(spec.dbFile);
  log(`ledger writer: ${spec.dbFile} at seq ${ledger.headSeq}`);

  // The newest signed head is kept outside the ledger too; a ledger that lost it (a cut tail) is not written to.
  const newestCheckpoint = (await ledger.checkpoints()).pop();
  const heads = new HeadKeeper({ chain: spec.chain, dbFile: spec.dbFile, key: spec.consumer, nc, log });
  try {
    await heads.start(
      ledger,
      createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
      newestCheckpoint,
    );
  } catch (err) {
    await ledger.close();
    throw err;
  }

  const sinks = startSinks(spec.sinks ?? [], log);
  if (sinks.length) log(`ledger writer: findings go to ${sinks.map((s) => s.name).join(', ')}`);
  let running = true;
  let signedSeq = newestCheckpoint?.seq ?? 0;
  let lastCheckpoint = Date.now();
  const checkpoint = async () => {
    if (ledger.headSeq === signedSeq) return;
    const time = new Date().toISOString();
    const signature = sign(null, checkpointMessage(spec.chain, ledger.headSeq, ledger.headHash, time), key).toString(
      'base64',
    );
    await ledger.addCheckpoint(ledger.headSeq, ledger.headHash, time, signature);
    signedSeq = ledger.headSeq;
    lastCheckpoint = Date.now();
    // Only once the checkpoint is committed: a head outside is always one the ledger has.
    heads.record({ seq: ledger.headSeq, hash: ledger.headHash, time, signature });
  };

  // Each problem said once while the failure lasts: NATS away for minutes would otherwise fill the log.
  const said = new Set<string>();
  const failing = (problem: string) => {
    if (!said.has(problem)) log(`ledger writer: ${problem}`);
    said.add(problem);
    spec.health?.set('failing', problem);
  };
  // Makes the stream and the consumer again (when the caller can), after RECOVER_MS; tried again on the next failure.
  const recover = async () => {
    await new Promise((r) => setTimeout(r, spec.recover ? RECOVER_MS : 250));
    if (!spec.recover || !running) return;
    try {
      await spec.recover();
      consumer = await nc.jetstream().consumers.get(SUBJECTS.stream(spec.chain), spec.consumer);
      placement = (await streamPlacement(nc, spec.chain).catch(() => null)) ?? placement;
      log(
        `ledger writer: stream ${SUBJECTS.stream(spec.chain)} and consumer ${spec.consumer} are there again; consuming`,
      );
    } catch (err) {
      failing(
        `cannot make stream ${SUBJECTS.stream(spec.chain)} and consumer ${spec.consumer} again: ` +
          `${(err as Error).message}${jsFailure(err) === 'unavailable' ? unavailableHint(placement) : ''}`,
      );
    }
  };
  // One batch of messages: those that arrived before a fetch failed too (the stream deleted mid-fetch), so they are
  // stored; null when the fetch failed with nothing, after the pause and the attempt to recover.
  let probedAt = Date.now();
  const fetchBatch = async (): Promise<JsMsg[] | null> => {
    const batch: JsMsg[] = [];
    try {
      const messages = await consumer.fetch({ max_messages: BATCH, expires: 1000 });
      for await (const m of messages) batch.push(m);
      // A fetch nobody answers ends empty, as one from an idle stream does: the consumer is asked whether it is there
      // (every PROBE_MS, and at every empty fetch while failing), so a stream whose servers are down is told apart.
      if (batch.length === 0 && (said.size > 0 || Date.now() - probedAt >= PROBE_MS)) {
        probedAt = Date.now();
        await consumer.info();
      }
      said.clear();
      spec.health?.set('ok');
      return batch;
    } catch (err) {
      failing(
        `fetch from stream ${SUBJECTS.stream(spec.chain)} (consumer ${spec.consumer}) failed: ` +
          `${(err as Error).message}${jsFailure(err) === 'unavailable' ? unavailableHint(placement) : ''}`,
      );
      if (batch.length > 0) return batch;
      await recover();
      return null;
    }
  };

  const store = async (batch: JsMsg[]) => {
    const events: MoatEvent[] = [];
    const texts: string[] = [];
    for (const m of batch) {
      let refused = 0;
      let why = '';
      // A message holds one event or a publisher's burst, one per line (hops/events/wire.ts).
      for (const line of eventLines(m.data)) {
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch {
          event = undefined;
        }
        // Anyone on the machine can publish to NATS: what is not an event is skipped (and acknowledged with its
        // batch), so it cannot hold up the events around it.
        if (!isEvent(event)) {
          log(`ledger writer: skipped a message line on ${m.subject} that is not an event`);
          continue;
        }
        // Only what the publishing process could have seen: its chain, its hop, its boundary. Refused events are
        // acknowledged with their batch (never stored, never redelivered) and counted in one line per message.
        const problem = originProblem(spec.chain, m.subject, event);
        if (problem) {
          refused++;
          why ||= problem;
          continue;
        }
        events.push(event);
        texts.push(line);
      }
      if (refused > 0) log(`ledger writer: refused ${refused} event(s) on ${m.subject}: ${why}`);
    }
    try {
      const stored = await ledger.appendFresh(events, texts);
      for (const m of batch) m.ack();
      // Each finding once, after its event is stored (a redelivered event is not fresh); handing over never waits.
      if (sinks.length) {
        const findings = findingsOf(stored);
        for (const sink of sinks) sink.push(findings);
      }
    } catch (err) {
      // Not stored and not acknowledged: NATS delivers the batch again after ack_wait.
      log(`ledger writer: append failed: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const loop = (async () => {
    // The next batch is fetched while this one is written: NATS and SQLite each take about half the time.
    let next = fetchBatch();
    while (running) {
      const batch = await next;
      next = running ? fetchBatch() : Promise.resolve(null);
      if (batch && batch.length > 0) await store(batch);
      if (
        ledger.headSeq - signedSeq >= CHECKPOINT_EVENTS ||
        (ledger.headSeq > signedSeq && Date.now() - lastCheckpoint >= CHECKPOINT_MS)
      ) {
        // A checkpoint that fails (disk full, a busy database) is tried again after the next batch; the rows are
        // stored.
        await checkpoint().catch((err: Error) => log(`ledger writer: checkpoint failed: ${err.message}`));
      }
    }
    // Messages of a fetch still running at stop stay unacknowledged and come again to the next writer.
    await next;
  })();

  return {
    get headSeq() {
      return ledger.headSeq;
    },
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      await checkpoint();
      await ledger.close();
      await heads.stop();
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}

if (require.main === module) {
  exitWithParent(); // pm2's daemon gone: the chain has stopped (hops/runtime/parent-watch.ts)
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as LedgerSpec;
  runLedgerWriter(spec, (l) => console.log(l)).then(
    (writer) => {
      const stop = () => writer.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: Error) => {
      console.error(`ledger writer failed to start: ${err.message}`);
      process.exit(1);
    },
  );
}
