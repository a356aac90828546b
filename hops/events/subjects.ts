// Every NATS name moat uses, in one table.
export const SUBJECTS = {
  /** One event at the boundary in front of hop `hop`. */
  event: (chain: string, hop: number, direction: 'request' | 'response' | 'frames' | 'gap') =>
    `moat.${chain}.hop.${hop}.${direction}`,
  /** A burst of events (hops/events/wire.ts) from the process that records the boundary in front of hop `hop`. */
  burst: (chain: string, hop: number) => `moat.${chain}.hop.${hop}.events`,
  /** Everything of a chain (the stream's subjects). */
  chain: (chain: string) => `moat.${chain}.>`,
  /** Events (single or in bursts) at the boundary in front of one hop. */
  hop: (chain: string, hop: number) => `moat.${chain}.hop.${hop}.*`,
  /** The JetStream stream of a chain (stream names take no dots or dashes). */
  stream: (chain: string) => `MOAT_${chain.replace(/-/g, '_')}`,
  /** The durable consumer of a chain's own ledger writer. */
  ledgerConsumer: 'ledger',
  /**
   * The durable consumer of a central `moat ledger serve`, one per ledger directory (its id is kept there):
   * never the local writer's name, and never another directory's, so two readers never split a stream's events.
   */
  centralLedgerConsumer: (dirId: string) => `ledger_central_${dirId}`,
  /**
   * The key-value bucket where each ledger writer of a chain keeps its newest signed head
   * (supervisor/ledger/head-kv.ts), one key per writer: its durable consumer's name. Its stream is `KV_<bucket>`, its
   * subjects `$KV.<bucket>.<key>`.
   */
  headBucket: (chain: string) => `MOAT_${chain.replace(/-/g, '_')}_heads`,
} as const;

/** Which process a message came from, by the subject it was published on (`event` and `burst` above). */
export interface EventSubject {
  chain: string;
  hop: number;
  /** `events` for a burst (any direction), else the one direction the subject carries. */
  kind: 'events' | 'request' | 'response' | 'frames' | 'gap';
}

const EVENT_SUBJECT = /^moat\.([a-z0-9][a-z0-9-]*)\.hop\.(\d+)\.(events|request|response|gap)$/;

/** The chain, hop and kind of an event subject; undefined for any other subject. */
export function parseEventSubject(subject: string): EventSubject | undefined {
  const m = EVENT_SUBJECT.exec(subject);
  if (!m) return undefined;
  return { chain: m[1], hop: Number(m[2]), kind: m[3] as EventSubject['kind'] };
}
