// The second copy of a ledger's newest signed head: a JetStream key-value bucket on the chain's NATS
// (SUBJECTS.headBucket), one key per ledger writer (its durable consumer's name: `ledger` for the
// chain's own writer, `ledger_central_<id>` for a `moat ledger serve` directory). The head file next
// to the ledger (ledger/head.ts) is in the same directory as the ledger; this copy is behind NATS,
// where on the chain's own nats-server only the ledger writer's nkey may write it, and nothing but the
// supervisor's may delete it.
//
// The bucket is made here rather than by nats.js's kv view, so that its stream refuses deleting and
// purging messages and the writer needs only the few JetStream subjects nats-auth.ts grants it; it is
// an ordinary KV bucket (`nats kv get MOAT_<chain>_heads ledger` reads it).
import type { NatsConnection } from 'nats';
import { nats } from '../nats-module';
import { SUBJECTS } from '../../hops/events/subjects';
import { headText, parseHead, type HeadRead, type SignedHead } from './head';

export function headStream(chain: string): string {
  return `KV_${SUBJECTS.headBucket(chain)}`;
}

export function headSubject(chain: string, key: string): string {
  return `$KV.${SUBJECTS.headBucket(chain)}.${key}`;
}

/** Where a head in NATS is, for messages. */
export function natsHeadSource(chain: string, key: string): string {
  return `NATS key-value ${SUBJECTS.headBucket(chain)}/${key}`;
}

export function headStreamConfig(chain: string, replicas = 1) {
  return {
    name: headStream(chain),
    subjects: [`$KV.${SUBJECTS.headBucket(chain)}.>`],
    // One value per key, as a KV bucket with history 1; a newer head replaces the older one.
    max_msgs_per_subject: 1,
    discard: nats().DiscardPolicy.New,
    storage: nats().StorageType.File,
    // As many copies as the chain's stream: the head outlives a server's death as the events do.
    num_replicas: replicas,
    allow_direct: true,
    // The writer only ever puts: removing a head through the stream API is refused to everyone, and so is a roll-up
    // (a KV purge marker that would drop the older value; JetStream allows no roll-ups with deny_purge).
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
  };
}

/**
 * Makes the bucket when it is missing (the chain's own writer and serve's, at start), with as many replicas as the
 * chain's stream; raises an older bucket's to them where the user may (on a chain's own nats-server there is one).
 */
export async function ensureHeadBucket(nc: NatsConnection, chain: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const replicas = await jsm.streams
    .info(SUBJECTS.stream(chain))
    .then((i) => i.config.num_replicas || 1)
    .catch(() => 1);
  let existing;
  try {
    existing = await jsm.streams.info(headStream(chain));
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(headStreamConfig(chain, replicas)).catch(async (e: Error) => {
      // Another writer made it meanwhile.
      await jsm.streams.info(headStream(chain)).catch(() => {
        throw e;
      });
    });
    return;
  }
  if ((existing.config.num_replicas || 1) < replicas)
    await jsm.streams.update(headStream(chain), { ...existing.config, num_replicas: replicas }).catch(() => undefined);
}

/** Puts the head under `key` (waits for JetStream's acknowledgement). */
export async function putHead(
  nc: NatsConnection,
  chain: string,
  key: string,
  head: SignedHead,
  timeoutMs = 2000,
): Promise<void> {
  await nc
    .jetstream({ timeout: timeoutMs })
    .publish(headSubject(chain, key), new TextEncoder().encode(headText(head)), { headers: nats().headers() });
}

/** What the bucket holds under `key`: a head, nothing (no bucket or no key yet), or a delete marker / garbage. */
export async function getHead(nc: NatsConnection, chain: string, key: string): Promise<HeadRead> {
  const jsm = await nc.jetstreamManager({ timeout: 2000 });
  let message;
  try {
    message = await jsm.streams.getMessage(headStream(chain), { last_by_subj: headSubject(chain, key) });
  } catch (err) {
    if (/not found|no message/i.test((err as Error).message)) return { absent: true };
    throw err;
  }
  const op = message.header?.get('KV-Operation');
  if (op)
    return {
      invalid: `the head was removed (a KV ${op} marker, revision ${message.seq}); the ledger writer never removes it`,
    };
  return parseHead(new TextDecoder().decode(message.data));
}
