// spending_limit: tokens and estimated cost spent per budget and day. Pure state; the hop
// runtime saves it to a file so a restarted moat-policy does not forget what was spent.

export interface Spent {
  tokens: number;
  amount: number;
}

export interface UsageSnapshot {
  [bucket: string]: Spent;
}

export class UsageBook {
  private readonly spent = new Map<string, Spent>();

  constructor(snapshot: UsageSnapshot = {}) {
    for (const [bucket, s] of Object.entries(snapshot)) {
      if (s && Number.isFinite(s.tokens) && Number.isFinite(s.amount))
        this.spent.set(bucket, { tokens: s.tokens, amount: s.amount });
    }
  }

  /** A budget's bucket for one day: what the limit is keyed by. */
  static bucket(budget: string, date: string, host: string, model?: string): string {
    return [budget, date, host, model ?? ''].join('|');
  }

  get(bucket: string): Spent {
    return this.spent.get(bucket) ?? { tokens: 0, amount: 0 };
  }

  add(bucket: string, tokens: number, amount: number): void {
    const s = this.get(bucket);
    this.spent.set(bucket, { tokens: s.tokens + tokens, amount: s.amount + amount });
  }

  /** Drops the days before `date` (buckets are per day; old ones only grow the file). */
  forgetBefore(date: string): void {
    for (const bucket of this.spent.keys()) {
      if (bucket.split('|')[1] < date) this.spent.delete(bucket);
    }
  }

  snapshot(): UsageSnapshot {
    return Object.fromEntries(this.spent);
  }
}
