// `moat ledger serve`: one ledger per chain from a NATS that several chains (on several machines)
// publish to. It looks for the chains' streams (MOAT_<chain>) at start and every few seconds after,
// and runs the ledger writer of ledger/writer.ts for each one, through a durable consumer named
// after its directory (never the chains' local one), into DIR/<chain>/ledger.db. On a NATS cluster a
// stream whose servers are down or electing a leader is missing from the list for a while: its
// writer keeps waiting (and says so) unless the server says the stream no longer exists. With --sink, each chain's
// writer streams the findings of the events it stores (events.sinks of a chain with a local ledger, done centrally).
import type { NatsConnection } from 'nats';
import { nats } from '../nats-module';
import { SUBJECTS } from '../../hops/events/subjects';
import { redactNatsUrl, natsConnection, FOLLOW_CLUSTER } from '../../hops/events/nats-url';
import { MoatError } from '../errors';
import { startLedgerWriter, type LedgerWriter } from './writer';
import { chainsToServe, claimedOwner, ensureConsumer, streamInfo } from './stream';
import { centralLedgerFile, ensureLedgerDir, ledgerDirId, lockLedgerDir } from './dir';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SinkSpec } from '../findings/sink-spec';

export interface ServeOptions {
  natsUrl: string;
  dir: string;
  chains: 'all' | string[];
  /** --sink: every chain's writer streams its findings there (findings/sinks.ts). */
  sinks?: SinkSpec[];
  /** How often to look for new (and removed) streams. */
  discoverMs?: number;
  log: (line: string) => void;
}

export interface LedgerServer {
  /** The chains with a running writer. */
  chains(): string[];
  stop(): Promise<void>;
}

async function connectOnce(natsUrl: string): Promise<NatsConnection> {
  try {
    // Fails now when the NATS cannot be reached at start (a typo should not wait for ever); reconnects for ever after.
    return await nats().connect({
      ...natsConnection(natsUrl),
      name: 'moat-ledger-serve',
      timeout: 5000,
      ...FOLLOW_CLUSTER,
    });
  } catch (err) {
    throw new MoatError('MOAT_ERR_NATS', `cannot reach NATS at ${redactNatsUrl(natsUrl)}: ${(err as Error).message}`);
  }
}

export async function serveLedgers(o: ServeOptions): Promise<LedgerServer> {
  ensureLedgerDir(o.dir);
  const release = await lockLedgerDir(o.dir);
  let nc: NatsConnection;
  try {
    nc = await connectOnce(o.natsUrl);
  } catch (err) {
    await release();
    throw err;
  }
  const consumer = SUBJECTS.centralLedgerConsumer(ledgerDirId(o.dir));
  o.log(
    `ledger serve: ${redactNatsUrl(o.natsUrl)} into ${o.dir}, chains: ` +
      `${o.chains === 'all' ? 'all' : o.chains.join(',')}, consumer ${consumer}`,
  );

  const writers = new Map<string, LedgerWriter>();
  const waiting = new Set<string>();
  /** Chains whose writer could not start, with what was logged about it. */
  const failing = new Map<string, string>();
  /** Chains whose stream the server left out of its list and did not answer for, with what was logged about it. */
  const unanswered = new Map<string, string>();
  let lastProblem = '';
  const problem = (text: string) => {
    if (text !== lastProblem) o.log(text);
    lastProblem = text;
  };

  const startChain = async (chain: string, description: string | undefined) => {
    const dbFile = centralLedgerFile(o.dir, chain);
    mkdirSync(dirname(dbFile), { recursive: true, mode: 0o700 });
    await ensureConsumer(nc, chain, consumer);
    const log = (line: string) => o.log(`[${chain}] ${line}`);
    // After a failed fetch: the consumer made again should it have vanished, and fetched from anew.
    const recover = () => ensureConsumer(nc, chain, consumer);
    writers.set(chain, await startLedgerWriter({ chain, nc, dbFile, consumer, log, recover, sinks: o.sinks }));
    const owner = claimedOwner(chain, description);
    log(`serving stream ${SUBJECTS.stream(chain)}${owner ? ` of ${owner}` : ''}`);
  };

  const discover = async () => {
    const jsm = await nc.jetstreamManager();
    const streams: { name: string; subjects?: string[]; description?: string }[] = [];
    for await (const info of jsm.streams.list()) streams.push(info.config);
    const present = chainsToServe(streams, o.chains);
    for (const chain of present.filter((c) => unanswered.delete(c))) o.log(`[${chain}] stream answers again`);
    for (const chain of o.chains === 'all' ? [] : o.chains.filter((c) => !present.includes(c) && !waiting.has(c))) {
      waiting.add(chain);
      o.log(
        `[${chain}] no stream ${SUBJECTS.stream(chain)} on the NATS yet; waiting for the chain's first ` +
          `\`moat chain up\``,
      );
    }
    // One chain that cannot start (a damaged ledger file, say) holds up none of the others; it is tried again next
    // round.
    for (const chain of present.filter((c) => !writers.has(c))) {
      await startChain(chain, streams.find((s) => s.name === SUBJECTS.stream(chain))?.description).then(
        () => failing.delete(chain),
        (err: Error) => {
          const text = `[${chain}] cannot start its writer: ${err.message}`;
          if (failing.get(chain) !== text) o.log(text); // once, not every round
          failing.set(chain, text);
        },
      );
    }
    // A stream removed from the server: its writer stops; the ledger stays as it is. One the list leaves out because it
    // does not answer (its servers down, a leader being elected) keeps its writer, which resumes when it answers.
    for (const [chain, writer] of [...writers].filter(([c]) => !present.includes(c))) {
      const gone = await streamInfo(nc, SUBJECTS.stream(chain)).then(
        (info) => info === null,
        (err: Error) => {
          const text =
            `[${chain}] stream ${SUBJECTS.stream(chain)} does not answer (${err.message}): the NATS servers that ` +
            `hold it are down or electing a leader. Its events wait in the chain's hops and are stored here once ` +
            `it answers; if it has one replica (events.replicas: 1), nothing else keeps them until its server is back`;
          if (unanswered.get(chain) !== text) o.log(text);
          unanswered.set(chain, text);
          return false;
        },
      );
      if (!gone) continue;
      writers.delete(chain);
      await writer.stop();
      o.log(
        `[${chain}] stream ${SUBJECTS.stream(chain)} is gone; its ledger stays in ` +
          `${dirname(centralLedgerFile(o.dir, chain))}`,
      );
    }
    lastProblem = '';
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const round = async () => {
    await discover().catch((err: Error) => problem(`ledger serve: looking for chains failed: ${err.message}`));
    if (!stopped) timer = setTimeout(() => void (current = round()), o.discoverMs ?? 2000);
  };
  let current = round();
  await current;

  return {
    chains: () => [...writers.keys()].sort(),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
      for (const writer of writers.values()) await writer.stop();
      writers.clear();
      await nc.drain().catch(() => undefined);
      await release();
    },
  };
}
