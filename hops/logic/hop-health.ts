// Whether the process a Moat process forwards to is hung, from the answers to its liveness probes (pure: the
// caller sends the probes and passes the time). A hung hop must be told apart from a slow provider: a request may
// wait minutes for its headers and an SSE stream may be silent for long, so no request's timing counts here, only
// whether the next Moat process (or a third-party hop) itself answers a health probe within a few seconds.

/** One probe's outcome: any HTTP answer is `ok`; no answer in time is `timeout`; refused or reset is `down`. */
export type ProbeResult = 'ok' | 'timeout' | 'down';

/**
 * `next`: the process this one forwards to, probed directly (a Moat process), or through it (a third-party hop, the
 * probe answered by the Moat process after it). `beyond`: that Moat process after a third-party hop, probed directly,
 * so that a hung Moat process behind a healthy third-party hop is not blamed on the hop.
 */
export type ProbeTarget = 'next' | 'beyond';

export interface HealthSettings {
  /** A probe of each target is sent this often. */
  intervalMs: number;
  /** A probe without an answer after this long is a `timeout`. */
  timeoutMs: number;
  /** This many consecutive timeouts of a target make it hung. */
  failures: number;
  /** A target still hung this long after it was killed is killed again (it hung again while starting). */
  restartEveryMs: number;
}

/**
 * Detection within 10 s: a hop that stops just after answering a probe gets its next probe within `intervalMs` (2 s);
 * that one and the two after it time out at 5, 7 and 9 s. Probes do not wait for each other (an unanswered one
 * does not hold up the next), so a hung hop's three timeouts arrive `intervalMs` apart.
 */
export const HEALTH_DEFAULTS: HealthSettings = {
  intervalMs: 2000,
  timeoutMs: 3000,
  failures: 3,
  restartEveryMs: 20_000,
};

/** What the caller must do after a probe's result was recorded. */
export interface HealthChange {
  /**
   * The target is hung from now on: fail what is in flight to it, answer new requests at once, kill it (pm2 restarts
   * it).
   */
  hung?: ProbeTarget;
  /** The hung target answered again: forward as usual. */
  recovered?: ProbeTarget;
  /** Kill this target's process now (on becoming hung, and again every restartEveryMs while it stays hung). */
  kill?: ProbeTarget;
}

export class HopHealth {
  private readonly timeouts: Record<ProbeTarget, number> = { next: 0, beyond: 0 };
  /** The last result of the direct probe of `beyond`; a timeout through the hop counts only while it answers. */
  private beyondAnswers = true;
  private current?: ProbeTarget;
  private killedAt = 0;

  constructor(
    private readonly s: HealthSettings,
    /** A third-party hop is next, and a Moat process after it is probed directly. */
    private readonly hasBeyond: boolean,
  ) {}

  /** The target now held hung, if any. */
  get hung(): ProbeTarget | undefined {
    return this.current;
  }

  /** The target is held hung, or its last probe went unanswered: keep probing it even with nothing in flight. */
  suspect(target: ProbeTarget): boolean {
    return this.current === target || this.timeouts[target] > 0;
  }

  record(target: ProbeTarget, result: ProbeResult, now: number): HealthChange {
    if (target === 'beyond') {
      this.beyondAnswers = result !== 'timeout';
      // The hop waits on a hung process after it: its silence is not its own.
      if (result === 'timeout') this.timeouts.next = 0;
    }
    if (result === 'timeout') {
      // Through the hop, only while the process after it answers directly: otherwise that one is to blame.
      if (target === 'beyond' || !this.hasBeyond || this.beyondAnswers) this.timeouts[target]++;
    } else {
      this.timeouts[target] = 0;
    }
    // A hung target stays hung until it answers (refused while pm2 restarts it is no answer yet).
    if (this.current === target && result === 'ok') {
      this.current = undefined;
      return { recovered: target, ...this.blame(now) };
    }
    return this.blame(now);
  }

  private blame(now: number): HealthChange {
    const { failures } = this.s;
    const blamed: ProbeTarget | undefined =
      this.hasBeyond && this.timeouts.beyond >= failures
        ? 'beyond'
        : this.timeouts.next >= failures
          ? 'next'
          : undefined;
    if (blamed && blamed !== this.current && (this.current === undefined || blamed === 'beyond')) {
      // 'beyond' takes precedence: the hop in front of a hung process times out too.
      const previous = this.current;
      this.current = blamed;
      this.killedAt = now;
      return { hung: blamed, kill: blamed, ...(previous ? { recovered: previous } : {}) };
    }
    if (this.current && blamed === this.current && now - this.killedAt >= this.s.restartEveryMs) {
      this.killedAt = now;
      return { kill: this.current };
    }
    return {};
  }
}
