// A chain's JetStream stream and the durable consumers that read it into a ledger. On a NATS
// shared by several chains (events.nats_url) the stream also carries a claim: which machine and
// state directory it belongs to, so a second chain of the same name is refused instead of
// merging its events into the first one's ledger. On a NATS cluster the stream and the consumers
// are kept by events.replicas servers (ledger/replicas.ts), so a server's death loses nothing.
import { hostname } from 'node:os';
import type { NatsConnection, StreamInfo } from 'nats';
import { nats } from '../nats-module';
import { SUBJECTS } from '../../hops/events/subjects';
import { MoatError } from '../errors';
import { clusterServers, jsFailure, placementOf, wantedReplicas, type StreamPlacement } from './replicas';

const DUPLICATE_WINDOW_NS = 120 * 1_000_000_000;
const ACK_WAIT_S = 3;
const CLAIM_PREFIX = 'moat chain ';

/** What a chain's stream must look like; `owner` is the claim (absent: a chain's own nats-server, nothing to claim). */
export function streamConfig(
  chain: string,
  owner?: string,
  replicas?: number,
): { name: string; subjects: string[]; duplicate_window: number; description?: string; num_replicas?: number } {
  return {
    name: SUBJECTS.stream(chain),
    subjects: [SUBJECTS.chain(chain)],
    duplicate_window: DUPLICATE_WINDOW_NS,
    ...(owner ? { description: claimText(chain, owner) } : {}),
    ...(replicas ? { num_replicas: replicas } : {}),
  };
}

/** This machine and state directory: who a chain on a shared NATS is. */
export function ownerOf(stateDir: string): string {
  return `${hostname()}:${stateDir}`;
}

export function claimText(chain: string, owner: string): string {
  return `${CLAIM_PREFIX}${chain} at ${owner}`;
}

/** The owner a stream's description names, if it carries a claim. */
export function claimedOwner(chain: string, description: string | undefined): string | undefined {
  const prefix = `${CLAIM_PREFIX}${chain} at `;
  return description?.startsWith(prefix) ? description.slice(prefix.length) : undefined;
}

export type StreamAction = 'add' | 'update' | 'keep';

/**
 * What to do with the stream a chain needs, given what the server has under that name (pure).
 * Throws when the name holds other subjects (not a moat chain's stream) or the claim is another owner's.
 */
export function planStream(
  chain: string,
  existing: { subjects?: string[]; description?: string; duplicate_window?: number; num_replicas?: number } | null,
  owner?: string,
  replicas = 1,
): StreamAction {
  const wanted = streamConfig(chain, owner);
  if (!existing) return 'add';
  const subjects = existing.subjects ?? [];
  if (subjects.length !== 1 || subjects[0] !== wanted.subjects[0]) {
    throw new MoatError(
      'MOAT_ERR_STREAM_CLASH',
      `the NATS already has a stream ${wanted.name} for ${subjects.join(', ') || 'other subjects'}, not for ` +
        `chain "${chain}" (${wanted.subjects[0]}): something other than this chain made it; rename the chain ` +
        `(name:), or remove that stream if it is a leftover`,
    );
  }
  const claimed = claimedOwner(chain, existing.description);
  if (owner && claimed && claimed !== owner) {
    throw new MoatError(
      'MOAT_ERR_CHAIN_NAME_TAKEN',
      `chain "${chain}" on this NATS belongs to ${claimed}, not to ${owner}: two chains of the same name ` +
        `would write into one ledger. Give this chain another name (name:), or, if that chain has moved here ` +
        `for good, release its claim with \`moat ledger release --nats URL --chain ${chain}\``,
    );
  }
  if (owner && claimed !== owner) return 'update';
  // Fewer copies than asked are raised; more are kept (an operator's choice, or events.replicas lowered later).
  if ((existing.num_replicas || 1) < replicas) return 'update';
  return existing.duplicate_window === wanted.duplicate_window ? 'keep' : 'update';
}

/** The stream, or null when the server says it does not exist; an unavailable stream throws (never taken for gone). */
export async function streamInfo(nc: NatsConnection, name: string): Promise<StreamInfo | null> {
  const jsm = await nc.jetstreamManager();
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (jsFailure(err) === 'not-found') return null;
    throw err;
  }
}

/** Where the chain's stream is kept: replica count, leader and servers (`plan`, `status`, the dashboard). */
export async function streamPlacement(nc: NatsConnection, chain: string): Promise<StreamPlacement | null> {
  const info = await streamInfo(nc, SUBJECTS.stream(chain));
  return info ? placementOf(info.config.name, info.config.num_replicas, info.cluster) : null;
}

export interface EnsuredStream {
  /** The replica count the stream has now. */
  replicas: number;
  /** What the user should know: the default replica count could not be placed, so fewer were made. */
  note?: string;
}

function placementError(chain: string, replicas: number, has: number | undefined, err: Error): MoatError {
  return new MoatError(
    'MOAT_ERR_STREAM_REPLICAS',
    `events.replicas: ${replicas}: the NATS cannot place stream ${SUBJECTS.stream(chain)} on ${replicas} servers ` +
      `(${err.message})${has ? `; it has ${has} replica${has === 1 ? '' : 's'} now` : ''}. Bring the cluster's ` +
      `JetStream servers up, or lower events.replicas`,
  );
}

/**
 * Creates or updates the chain's stream (idempotent); with `owner`, claims it or refuses another owner's. `replicas`
 * is events.replicas (undefined: the default for the cluster the connection reached, ledger/replicas.ts); a stream
 * with fewer is raised, MOAT_ERR_STREAM_REPLICAS when the cluster cannot place them. When the default cannot be placed
 * (a server of the cluster is down, or serves no JetStream) the stream is made with one replica and `note` says so.
 */
export async function ensureStream(
  nc: NatsConnection,
  chain: string,
  owner?: string,
  replicas?: number,
): Promise<EnsuredStream> {
  const jsm = await nc.jetstreamManager();
  let wanted = wantedReplicas(replicas, clusterServers(nc.info));
  let note: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const info = await streamInfo(nc, SUBJECTS.stream(chain));
    const has = info?.config.num_replicas || undefined;
    const action = planStream(chain, info?.config ?? null, owner, wanted);
    try {
      if (action === 'add') await jsm.streams.add(streamConfig(chain, owner, wanted));
      // Only the fields moat sets change; the rest (limits an operator set on the server) stays, and so does a
      // replica count higher than asked.
      if (action === 'update')
        await jsm.streams.update(SUBJECTS.stream(chain), {
          ...info!.config,
          ...streamConfig(chain, owner, Math.max(wanted, has ?? 1)),
        });
      return { replicas: action === 'keep' ? (has ?? 1) : Math.max(wanted, has ?? 1), ...(note ? { note } : {}) };
    } catch (err) {
      if (jsFailure(err) === 'placement') {
        if (replicas !== undefined) throw placementError(chain, wanted, has, err as Error);
        if (wanted > 1 && (has ?? 1) < wanted) {
          note =
            `stream ${SUBJECTS.stream(chain)}: the cluster could not place ${wanted} replicas ` +
            `(${(err as Error).message}); ${has ? `it keeps ${has}` : 'made with 1'}: set events.replicas to be told`;
          wanted = has ?? 1;
          continue;
        }
      }
      // Another `up` made or changed it meanwhile: look again once.
      if (attempt > 0) throw err;
    }
  }
}

/** Gives up the claim on a chain's stream, so a chain of that name elsewhere may take it (`moat ledger release`). */
export async function releaseClaim(nc: NatsConnection, chain: string): Promise<string | undefined> {
  const info = await streamInfo(nc, SUBJECTS.stream(chain));
  if (!info)
    throw new MoatError('MOAT_ERR_NO_LEDGER', `the NATS has no stream ${SUBJECTS.stream(chain)} for chain "${chain}"`);
  const owner = claimedOwner(chain, info.config.description);
  if (owner === undefined) return undefined;
  const jsm = await nc.jetstreamManager();
  await jsm.streams.update(info.config.name, { ...info.config, description: '' });
  return owner;
}

/**
 * The durable consumer a ledger writer reads with (idempotent), kept by as many servers as its stream, so that its
 * place in the stream survives a server's death. Made anew only when the server refuses its settings; a consumer that
 * cannot answer now (a leader being elected) is never deleted: the error goes to the caller, who tries again.
 */
export async function ensureConsumer(nc: NatsConnection, chain: string, durable: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const stream = SUBJECTS.stream(chain);
  const info = await streamInfo(nc, stream);
  if (!info) throw new MoatError('MOAT_ERR_NO_LEDGER', `the NATS has no stream ${stream} for chain "${chain}"`);
  // ack_wait bounds how long events fetched by a writer that died stay unwritten before redelivery;
  // a batch is committed in milliseconds, so a few seconds is plenty.
  // Explicit acks, not AckPolicy.All: after a crash the restarted writer's first ack would otherwise
  // also cover the messages the dead writer fetched but never committed, and they would be lost.
  const consumer = {
    durable_name: durable,
    ack_policy: nats().AckPolicy.Explicit,
    max_ack_pending: 20_000,
    ack_wait: ACK_WAIT_S * 1_000_000_000,
    num_replicas: info.config.num_replicas || 1,
  };
  // Adding an existing durable with other settings updates it where JetStream allows.
  await jsm.consumers.add(stream, consumer).catch(async (err: unknown) => {
    if (jsFailure(err) !== 'other') throw err;
    // A consumer made with settings that cannot change: start it anew; stored ids are skipped, so nothing doubles.
    await jsm.consumers.delete(stream, durable);
    await jsm.consumers.add(stream, consumer);
  });
}

/** The chain a stream on the server belongs to, or undefined when it is not a moat chain's stream (pure). */
export function chainOfStream(name: string, subjects: readonly string[] | undefined): string | undefined {
  if (!name.startsWith('MOAT_') || subjects?.length !== 1) return undefined;
  const m = /^moat\.([a-z0-9][a-z0-9-]{0,31})\.>$/.exec(subjects[0]);
  if (!m || SUBJECTS.stream(m[1]) !== name) return undefined;
  return m[1];
}

/** Which chains to serve among the streams on the server: every moat chain's, or the ones named (pure, sorted). */
export function chainsToServe(
  streams: readonly { name: string; subjects?: string[] }[],
  wanted: 'all' | readonly string[],
): string[] {
  const found = streams.map((s) => chainOfStream(s.name, s.subjects)).filter((c): c is string => c !== undefined);
  return [...new Set(found)].filter((c) => wanted === 'all' || wanted.includes(c)).sort();
}
