// Every NATS name moat uses, in one table.
export const SUBJECTS = {
  /** One event at the boundary in front of hop `hop`. */
  event: (chain: string, hop: number, direction: 'request' | 'response' | 'gap') => `moat.${chain}.hop.${hop}.${direction}`,
  /** A burst of events (hops/event-wire.ts) from the process that records the boundary in front of hop `hop`. */
  burst: (chain: string, hop: number) => `moat.${chain}.hop.${hop}.events`,
  /** Everything of a chain (the stream's subjects). */
  chain: (chain: string) => `moat.${chain}.>`,
  /** Events (single or in bursts) at the boundary in front of one hop. */
  hop: (chain: string, hop: number) => `moat.${chain}.hop.${hop}.*`,
  /** The JetStream stream of a chain (stream names take no dots or dashes). */
  stream: (chain: string) => `MOAT_${chain.replace(/-/g, '_')}`,
  /** The ledger writer's durable consumer. */
  ledgerConsumer: 'ledger',
} as const;
