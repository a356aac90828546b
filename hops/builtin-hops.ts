// The hops moat ships, in one table: each one's name and how its logic starts in the process that runs it. Adding a
// built-in hop is an entry here and one in supervisor/chain/builtin-wiring.ts (what the plan adds to its spec), which
// is keyed by these names and does not compile without it.
// A hop's modules are required inside its start only: a process pm2 restarts under load spends most of its start
// compiling modules, and links and egress need no policy engine; without it a killed link serves again sooner
// (docs/resilience.md). (prom-client is loaded only by moat-telemetry's metrics process, a service of its own.)
import type { HopLogic } from './logic/view';
import type { LinkSpec } from './spec';
import type { PolicyReader } from './policy/runtime';

export const TELEMETRY_HOP = 'moat-telemetry';
export const POLICY_HOP = 'moat-policy';

/** What the process entry hands the runtime from the supervisor's side (hops/ never imports supervisor/). */
export interface ProcessServices {
  /** moat-policy's reload of moat.yaml; without it the policy in force never changes. */
  readPolicy?: PolicyReader;
}

/** A built-in hop's logic in its process, and what to stop with the process. */
export interface StartedHop {
  logic: HopLogic;
  close?(): void;
}

type StartHop = (spec: LinkSpec, log: (line: string) => void, services: ProcessServices) => StartedHop;

// In the order the unknown-hop message lists them.
const BUILTIN_HOPS = {
  [TELEMETRY_HOP]: () => ({
    logic: (require('./telemetry/hop') as typeof import('./telemetry/hop')).telemetryHop(),
  }),
  [POLICY_HOP]: (spec, log, services) => {
    const { policyHop } = require('./policy/hop') as typeof import('./policy/hop');
    const { startPolicy } = require('./policy/runtime') as typeof import('./policy/runtime');
    const policy = startPolicy(spec.policy!, log, services.readPolicy);
    return { logic: policyHop(policy.engine, { onUsage: policy.saveUsage }), close: policy.close };
  },
} satisfies Record<string, StartHop>;

export type BuiltinHopName = keyof typeof BUILTIN_HOPS;

export const BUILTIN_HOP_NAMES = Object.keys(BUILTIN_HOPS) as BuiltinHopName[];

export function isBuiltinHop(name: string): name is BuiltinHopName {
  return (BUILTIN_HOP_NAMES as string[]).includes(name);
}

/** The logic of the built-in hop the spec names; a name outside the table is a spec this version cannot run. */
export function startBuiltinHop(spec: LinkSpec, log: (line: string) => void, services: ProcessServices): StartedHop {
  if (!isBuiltinHop(spec.name)) throw new Error(`unknown built-in hop ${spec.name}`);
  return BUILTIN_HOPS[spec.name](spec, log, services);
}
