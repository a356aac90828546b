// nats.js costs about 70 ms of CPU to load, a third of the CLI's start. Commands load it when they first talk to NATS,
// not at start: `up` then loads it while pm2's daemon boots, and `plan`, `status` or `logs` never do. Types come from
// `import type`, which costs nothing at run time.
import type * as Nats from 'nats';

let loaded: typeof Nats | undefined;

export function nats(): typeof Nats {
  return (loaded ??= require('nats') as typeof Nats);
}
