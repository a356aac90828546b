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
  /** The durable consumer of a chain's own ledger writer. */
  ledgerConsumer: 'ledger',
  /**
   * The durable consumer of a central `moat ledger serve`, one per ledger directory (its id is kept there):
   * never the local writer's name, and never another directory's, so two readers never split a stream's events.
   */
  centralLedgerConsumer: (dirId: string) => `ledger_central_${dirId}`,
} as const;
