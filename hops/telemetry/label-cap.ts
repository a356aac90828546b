// Bounds how many distinct values a metric label takes. Hosts and models come from what the
// agent sends: usually a handful, but every new value is a new time series kept for ever, so
// past the cap they are counted as "other".
export const OTHER = 'other';

export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(readonly max: number) {}

  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(v);
    return v;
  }
}
