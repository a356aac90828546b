// What a trace id's shape costs the ledger writer: `node dist/test/bench/ledger-order.js [EVENTS] [MEASURED]` appends
// EVENTS events (default 300,000) in batches of 3,000 to a new ledger, twice each way (random trace ids, and
// time-ordered ones as ingress mints them: hops/logic/trace.ts), and prints the CPU (every thread) and wall time per
// event of the last MEASURED (default 60,000): a ledger that already holds the rest. Files in a temporary directory
// only.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Ledger } from '../../supervisor/ledger/ledger';
import { timeOrderedId } from '../../hops/logic/trace';
import type { MoatEvent } from '../../schemas/generated/event';
import { sampleEvent } from './sample-event';

const EVENTS = Number(process.argv[2] ?? 300_000);
const MEASURED = Number(process.argv[3] ?? 60_000);
const BATCH = 3000;
const idPrefix = randomBytes(8).toString('hex');
let counter = 0;

function event(trace: string, direction: 'request' | 'response'): MoatEvent {
  const id = idPrefix + (counter++).toString(16).padStart(16, '0');
  return sampleEvent({ id, chain: 'default', trace, span: randomBytes(8).toString('hex'), direction });
}

async function run(dir: string, ordered: boolean): Promise<{ cpuUs: number; wallUs: number; timed: number }> {
  const ledger = await Ledger.open(join(dir, `${ordered ? 'ordered' : 'random'}-${counter}.db`));
  let cpu = process.cpuUsage();
  let wall = performance.now();
  // Timed from the first batch at or past EVENTS - MEASURED (whole batches: what is timed is counted).
  let timing = false;
  let timed = 0;
  for (let done = 0; done < EVENTS; done += BATCH) {
    if (!timing && done >= EVENTS - MEASURED) {
      timing = true;
      cpu = process.cpuUsage();
      wall = performance.now();
    }
    if (timing) timed += BATCH;
    const events: MoatEvent[] = [];
    for (let i = 0; i < BATCH; i += 2) {
      const trace = ordered ? timeOrderedId() : randomBytes(16).toString('hex');
      events.push(event(trace, 'request'), event(trace, 'response'));
    }
    await ledger.append(
      events,
      events.map((e) => JSON.stringify(e)),
    );
  }
  const used = process.cpuUsage(cpu);
  const elapsed = performance.now() - wall;
  await ledger.close();
  return { cpuUs: (used.user + used.system) / timed, wallUs: (elapsed * 1000) / timed, timed };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-ledger-order-'));
  try {
    for (let round = 0; round < 2; round++) {
      for (const ordered of [false, true]) {
        const r = await run(dir, ordered);
        console.log(
          `${ordered ? 'time-ordered' : 'random'} trace ids: the last ${r.timed} of ${EVENTS} events, ` +
            `${r.cpuUs.toFixed(1)} µs CPU and ${r.wallUs.toFixed(1)} µs wall per event`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
