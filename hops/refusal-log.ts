// A listener's log line for a client that came without its credential, folded so a loop of tries cannot flood the log.

/**
 * Refusals of a wrong or missing credential, logged naming the listener: at most one line a second (a client
 * trying spellings in a loop must not flood the log), with the count of those folded into it.
 */
export class RefusalLog {
  private lastAt = -Infinity;
  private folded = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly listener: string,
    private readonly now: () => number = () => Date.now(),
  ) {}

  note(entrance: string): void {
    const t = this.now();
    if (t - this.lastAt < 1000) {
      this.folded++;
      return;
    }
    const more = this.folded > 0 ? ` (and ${this.folded} more since the last line)` : '';
    this.folded = 0;
    this.lastAt = t;
    this.log(`refused: ${this.listener}: a ${entrance} request without this listener's credential (407)${more}`);
  }
}
