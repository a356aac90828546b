// rate_limit: requests admitted per key (rule, limit, host) in the last 60 s, a sliding window.
// Only admitted requests count, so a client that keeps retrying is not locked out for ever.

const WINDOW_MS = 60_000;

export class RateWindows {
  private readonly admitted = new Map<string, number[]>();

  /** Seconds until one more request fits, or 0 when it fits now. */
  retryAfter(key: string, max: number, nowMs: number): number {
    const times = this.prune(key, nowMs);
    if (times.length < max) return 0;
    return Math.max(1, Math.ceil((times[times.length - max] + WINDOW_MS - nowMs) / 1000));
  }

  /** How many were admitted in the window (for the reason text). */
  count(key: string, nowMs: number): number {
    return this.prune(key, nowMs).length;
  }

  admit(key: string, nowMs: number): void {
    const times = this.prune(key, nowMs);
    times.push(nowMs);
    this.admitted.set(key, times);
  }

  private prune(key: string, nowMs: number): number[] {
    const times = this.admitted.get(key) ?? [];
    let drop = 0;
    while (drop < times.length && times[drop] <= nowMs - WINDOW_MS) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length === 0) this.admitted.delete(key);
    return times;
  }
}
