// The dashboard's reads of the ledger: recent events at start, filtered events for /_/api/events,
// a trace's events, and verification. Read-only; the ledger writer stays its only writer.
import { existsSync } from 'node:fs';
import type { MoatEvent } from '../../schemas/generated/event';
import { Ledger } from '../ledger/ledger';
import { verifyChainLedger, describeVerify, eventWhere, eventMatches } from '../ledger/commands';
import type { VerifyResult } from '../ledger/verify';
import type { StateLayout } from '../chain/state';
import type { Filter } from './stats';

export interface EventQuery extends Filter {
  trace?: string;
}

export interface VerifyView extends Partial<VerifyResult> {
  /** describeVerify's line, or why there is nothing to verify yet. */
  text: string;
  checked_at: string;
}

const VERIFY_CACHE_MS = 2000;

export class LedgerReader {
  private verified?: { at: number; view: Promise<VerifyView> };

  constructor(
    private readonly layout: StateLayout,
    private readonly chain: string,
    /** The ledger is central: none here, and verification happens where `moat ledger serve` writes it. */
    private readonly central = false,
  ) {}

  /**
   * The newest `limit` events that fit the query, oldest first (as `moat chain events` lists them); bodies: false
   * leaves them out.
   */
  async events(q: EventQuery, limit: number, o: { bodies?: boolean } = {}): Promise<MoatEvent[]> {
    if (!existsSync(this.layout.ledgerFile)) return [];
    // On the hashed event's fields, not the unhashed columns that copy them (eventWhere).
    const { where, params } = eventWhere(q);
    params.push(limit);
    const ledger = await Ledger.open(this.layout.ledgerFile, true);
    try {
      // Rows come oldest first; the newest are picked in a subquery.
      const texts = await ledger.eventTexts(
        `WHERE seq IN (SELECT seq FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ` +
          `seq DESC LIMIT ?)`,
        params,
        o.bodies === false ? ['body'] : [],
      );
      return texts.map((t) => JSON.parse(t) as MoatEvent).filter((e) => eventMatches(e, q));
    } finally {
      await ledger.close();
    }
  }

  /** Verification takes a pass over every row: a page that asks often gets the answer of the last 2 s. */
  verify(now = Date.now()): Promise<VerifyView> {
    if (!this.verified || now - this.verified.at > VERIFY_CACHE_MS) this.verified = { at: now, view: this.runVerify() };
    return this.verified.view;
  }

  private async runVerify(): Promise<VerifyView> {
    const checked_at = new Date().toISOString();
    if (this.central)
      return {
        text:
          `the ledger is central (events.ledger: central): verify it where moat ledger serve writes it, with ` +
          `moat ledger verify --dir DIR --chain ${this.chain}`,
        checked_at,
      };
    try {
      const result = await verifyChainLedger(this.layout, this.chain);
      return { ...result, text: describeVerify('ledger.db', result), checked_at };
    } catch (err) {
      return { text: (err as Error).message, checked_at };
    }
  }
}
