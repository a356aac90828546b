// A listener's log line for a client that came without its credential (or with an ambiguous request path), folded so a
// loop of tries cannot flood the log.

/**
 * Refusals of a wrong or missing credential, logged naming the listener: at most one line a second (a client
 * trying spellings in a loop must not flood the log), with the count of those folded into it.
 */
export class RefusalLog {
  private lastAt = -Infinity;
  private folded = 0;

  /** line: what is refused, from what note() was given (by default a request without the listener's credential). */
  constructor(
    private readonly log: (line: string) => void,
    private readonly listener: string,
    private readonly now: () => number = () => Date.now(),
    private readonly line: (given: string) => string = (entrance) =>
      `a ${entrance} request without this listener's credential (407)`,
  ) {}

  note(given: string): void {
    const t = this.now();
    if (t - this.lastAt < 1000) {
      this.folded++;
      return;
    }
    const more = this.folded > 0 ? ` (and ${this.folded} more since the last line)` : '';
    this.folded = 0;
    this.lastAt = t;
    this.log(`refused: ${this.listener}: ${this.line(given)}${more}`);
  }
}
