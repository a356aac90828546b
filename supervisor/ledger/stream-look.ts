// One look at where a chain's stream is kept, for `plan`, `status` and the dashboard: how many
// replicas and, on a NATS cluster, which servers hold it and which one leads (issue 23). One short
// connection; a NATS or stream that does not answer is said in the line, never thrown, and no URL
// is shown but redacted.
import type { NatsConnection } from 'nats';
import { nats } from '../nats-module';
import { natsConnection, redactNatsUrl, type NatsIdentity } from '../../hops/events/nats-url';
import { SUBJECTS } from '../../hops/events/subjects';
import { streamPlacement } from './stream';
import { describePlacement, type StreamPlacement } from './replicas';

export interface StreamLook {
  /** One line: "stream MOAT_x: 3 replicas on cluster c: n1 (leader), n2, n3". */
  line: string;
  placement?: StreamPlacement;
  /** The stream does not answer, or NATS cannot be reached: events are not being stored now. */
  problem?: string;
}

/** Looks with a connection the caller owns. */
export async function lookWith(nc: NatsConnection, chain: string, timeoutMs = 3000): Promise<StreamLook> {
  const name = SUBJECTS.stream(chain);
  try {
    const placement = await withTimeout(streamPlacement(nc, chain), timeoutMs);
    if (!placement) return { line: `stream ${name}: not on the NATS (\`moat chain up\` makes it)` };
    return { line: `stream ${name}: ${describePlacement(placement)}`, placement };
  } catch (err) {
    const problem =
      `does not answer (${(err as Error).message}): the NATS servers holding it are down or electing a ` +
      `leader; events wait in the hops until it answers`;
    return { line: `stream ${name}: ${problem}`, problem };
  }
}

/** Connects for one look (at most about timeoutMs twice). */
export async function lookAtStream(
  natsUrl: string,
  identity: NatsIdentity | undefined,
  chain: string,
  timeoutMs = 3000,
): Promise<StreamLook> {
  let nc: NatsConnection;
  try {
    nc = await nats().connect({
      ...natsConnection(natsUrl, identity),
      name: `moat-${chain}-look`,
      timeout: timeoutMs,
      maxReconnectAttempts: 0,
    });
  } catch (err) {
    const problem = `cannot reach NATS at ${redactNatsUrl(natsUrl)}: ${(err as Error).message}`;
    return { line: `stream ${SUBJECTS.stream(chain)}: ${problem}`, problem };
  }
  try {
    return await lookWith(nc, chain, timeoutMs);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('TIMEOUT')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
