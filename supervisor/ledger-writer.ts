// The ledger writer, its own pm2 process: a durable JetStream consumer that appends every
// event of the chain to ledger.db in batches, acknowledges only after the commit (so a crash
// means redelivery, and a redelivered id is skipped), and signs a checkpoint of the head
// every CHECKPOINT_EVENTS events or CHECKPOINT_MS while new events arrive.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, sign, createPrivateKey } from 'node:crypto';
import { connect, AckPolicy, type JsMsg, type NatsConnection } from 'nats';
import type { MoatEvent } from '../schemas/generated/event';
import { SUBJECTS } from '../hops/subjects';
import { eventLines } from '../hops/event-wire';
import { Ledger } from './ledger';
import { checkpointMessage } from './ledger-verify';

export interface LedgerSpec {
  chain: string;
  natsUrl: string;
  dbFile: string;
}

const BATCH = 1000;
const CHECKPOINT_EVENTS = 1000;
const CHECKPOINT_MS = 2000;
const ACK_WAIT_S = 3;

/** The least a message must have to be taken for an event (anyone on the machine can publish to NATS). */
export function isEvent(e: unknown): e is MoatEvent {
  const v = e as Record<string, unknown> | null;
  return !!v && typeof v === 'object' && typeof v.id === 'string' && v.id.length > 0 && typeof v.trace === 'string' &&
    Number.isInteger(v.hop) && Number.isInteger(v.boundary) && typeof v.direction === 'string' && typeof v.time === 'string';
}

export function keyFiles(dbFile: string): { privateKey: string; publicKey: string } {
  return { privateKey: dbFile.replace(/\.db$/, '') + '-key.pem', publicKey: dbFile.replace(/\.db$/, '') + '-key.pub.pem' };
}

/** The Ed25519 key that signs checkpoints, created next to the ledger on first use. */
export function ensureLedgerKey(dbFile: string): string {
  const files = keyFiles(dbFile);
  if (!existsSync(files.privateKey)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    writeFileSync(files.privateKey, privateKey, { mode: 0o600 });
    writeFileSync(files.publicKey, publicKey, { mode: 0o644 });
  }
  return readFileSync(files.privateKey, 'utf8');
}

/** Creates the chain's stream and the writer's durable consumer (idempotent). */
export async function ensureStream(nc: NatsConnection, chain: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const name = SUBJECTS.stream(chain);
  const config = { name, subjects: [SUBJECTS.chain(chain)], duplicate_window: 120 * 1_000_000_000 };
  await jsm.streams.add(config).catch(async () => jsm.streams.update(name, config));
  // ack_wait bounds how long events fetched by a writer that died stay unwritten before redelivery;
  // a batch is committed in milliseconds, so a few seconds is plenty.
  // Explicit acks, not AckPolicy.All: after a crash the restarted writer's first ack would otherwise
  // also cover the messages the dead writer fetched but never committed, and they would be lost.
  const consumer = { durable_name: SUBJECTS.ledgerConsumer, ack_policy: AckPolicy.Explicit, max_ack_pending: 20_000, ack_wait: ACK_WAIT_S * 1_000_000_000 };
  await jsm.consumers.add(name, consumer).catch(async () => {
    // A consumer made with other settings: start it anew; stored ids are skipped, so nothing doubles.
    await jsm.consumers.delete(name, SUBJECTS.ledgerConsumer);
    await jsm.consumers.add(name, consumer);
  });
}

export async function runLedgerWriter(spec: LedgerSpec, log: (line: string) => void): Promise<{ stop(): Promise<void> }> {
  const ledger = await Ledger.open(spec.dbFile);
  const key = createPrivateKey(ensureLedgerKey(spec.dbFile));
  const nc = await connect({ servers: spec.natsUrl, name: `moat-${spec.chain}-ledger`, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true });
  await ensureStream(nc, spec.chain);
  const consumer = await nc.jetstream().consumers.get(SUBJECTS.stream(spec.chain), SUBJECTS.ledgerConsumer);
  log(`ledger writer: ${spec.dbFile} at seq ${ledger.headSeq}`);

  let signedSeq = (await ledger.checkpoints()).pop()?.seq ?? 0;
  let lastCheckpoint = Date.now();
  const checkpoint = async () => {
    if (ledger.headSeq === signedSeq) return;
    const time = new Date().toISOString();
    const signature = sign(null, checkpointMessage(spec.chain, ledger.headSeq, ledger.headHash, time), key).toString('base64');
    await ledger.addCheckpoint(ledger.headSeq, ledger.headHash, time, signature);
    signedSeq = ledger.headSeq;
    lastCheckpoint = Date.now();
  };

  // One batch of messages; null when the fetch failed (NATS away), after a short pause.
  const fetchBatch = async (): Promise<JsMsg[] | null> => {
    const batch: JsMsg[] = [];
    try {
      const messages = await consumer.fetch({ max_messages: BATCH, expires: 1000 });
      for await (const m of messages) batch.push(m);
      return batch;
    } catch (err) {
      log(`ledger writer: fetch failed: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
      return null;
    }
  };

  const store = async (batch: JsMsg[]) => {
    const events: MoatEvent[] = [];
    const texts: string[] = [];
    for (const m of batch) {
      // A message holds one event or a publisher's burst, one per line (hops/event-wire.ts).
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
        events.push(event);
        texts.push(line);
      }
    }
    try {
      await ledger.append(events, texts);
      for (const m of batch) m.ack();
    } catch (err) {
      // Not stored and not acknowledged: NATS delivers the batch again after ack_wait.
      log(`ledger writer: append failed: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  let running = true;
  const loop = (async () => {
    // The next batch is fetched while this one is written: NATS and SQLite each take about half the time.
    let next = fetchBatch();
    while (running) {
      const batch = await next;
      next = running ? fetchBatch() : Promise.resolve(null);
      if (batch && batch.length > 0) await store(batch);
      if (ledger.headSeq - signedSeq >= CHECKPOINT_EVENTS || (ledger.headSeq > signedSeq && Date.now() - lastCheckpoint >= CHECKPOINT_MS)) await checkpoint();
    }
    // Messages of a fetch still running at stop stay unacknowledged and come again to the next writer.
    await next;
  })();

  return {
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      await checkpoint();
      await nc.drain().catch(() => undefined);
      await ledger.close();
    },
  };
}

if (require.main === module) {
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
