// A streamed body's chunks live outside V8's heap, and only a scavenge of the young generation (when it fills with
// other objects) frees the dead ones. A larger young generation saves CPU on every request (fewer scavenges copying the
// events a process holds for its next burst) but lets a 100 MB body hold more dead chunks at once: with 4 MB
// semi-spaces a download grew a process by up to 32.5 MB, with 2 MB 17-20. Moat processes run with --expose-gc and
// ask for a scavenge after every SCAVENGE_EVERY_BYTES of body they passed (a few milliseconds of streaming), which
// bounds that memory whatever the young generation's size: 14.6-17.8 MB with 4 MB (docs/benchmarks.md, session 18).
export const SCAVENGE_EVERY_BYTES = 8 * 1024 * 1024;

export type MinorGc = (options: { type: 'minor'; execution: 'async' }) => void;

/** Counts body bytes; asks `gc` for a scavenge each time another SCAVENGE_EVERY_BYTES have passed. */
export function scavengeHint(gc: MinorGc | undefined): (bytes: number) => void {
  if (!gc) return () => undefined;
  let passed = 0;
  return (bytes) => {
    passed += bytes;
    if (passed < SCAVENGE_EVERY_BYTES) return;
    passed = 0;
    gc({ type: 'minor', execution: 'async' });
  };
}

/** This process's counter: `gc` is there only when Node was started with --expose-gc (every Moat process is). */
export const bodyBytesPassed = scavengeHint((globalThis as { gc?: MinorGc }).gc);
