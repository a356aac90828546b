// A streamed body's chunks live outside V8's heap, and only a scavenge of the young generation (when it fills with
// other objects) frees the dead ones. A larger young generation saves CPU on every request (fewer scavenges copying the
// events a process holds for its next burst) but lets a 100 MB body hold more dead chunks at once: with 4 MB
// semi-spaces a download grew a process by up to 32.5 MB, with 2 MB 17-20. Moat processes run with --expose-gc and
// ask for a scavenge after every SCAVENGE_EVERY_BYTES of body, WebSocket or blind tunnel bytes they pass (a few
// milliseconds of streaming); with 4 and 8 MB semi-spaces a download then grew a process by 14.3-21.0 MB, as with
// 2 MB and no hint (docs/benchmarks.md, session 18).
export const SCAVENGE_EVERY_BYTES = 8 * 1024 * 1024;

export type MinorGc = (options: { type: 'minor'; execution: 'async' }) => void;

export interface ScavengeHint {
  /** Counts bytes that passed; asks for a scavenge each time another SCAVENGE_EVERY_BYTES have. */
  passed(bytes: number): void;
  /** Bytes counted so far (for tests). */
  readonly total: number;
}

/** A counter that asks `gc` (when there is one) for a scavenge, queued as a task, every SCAVENGE_EVERY_BYTES. */
export function scavengeHint(gc: MinorGc | undefined): ScavengeHint {
  let since = 0;
  let total = 0;
  return {
    passed(bytes) {
      total += bytes;
      if (!gc) return;
      since += bytes;
      if (since < SCAVENGE_EVERY_BYTES) return;
      since = 0;
      gc({ type: 'minor', execution: 'async' });
    },
    get total() {
      return total;
    },
  };
}

/** This process's counter: `gc` is there only when Node was started with --expose-gc (every Moat process is). */
export const bytesPassed = scavengeHint((globalThis as { gc?: MinorGc }).gc);
