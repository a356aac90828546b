// Event ids: 32 hex characters, unique across the chain. A random prefix drawn once per process and a counter
// instead of 16 random bytes per event: the ids only need to be unique (the ledger de-duplicates on them), and a
// random draw per event was a measurable part of a recording process's work per request (docs/benchmarks.md).
import { randomBytes } from 'node:crypto';

const prefix = randomBytes(8).toString('hex');
let counter = 0;

export function nextEventId(): string {
  counter++;
  return prefix + counter.toString(16).padStart(16, '0');
}
