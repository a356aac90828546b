// What the plan adds to a built-in hop's spec when it places the hop, keyed by the hops' own table
// (hops/builtin-hops.ts): a built-in hop added there without its entry here does not compile, so the plan never
// starts a hop without the settings it runs on.
import { join } from 'node:path';
import { POLICY_HOP, TELEMETRY_HOP, isBuiltinHop, type BuiltinHopName } from '../../hops/builtin-hops';
import type { LinkSpec } from '../../hops/spec';
import { policySettings } from '../config/policy';
import type { ResolvedConfig } from '../config/types';
import type { StateLayout } from './state';

export interface BuiltinWiringInputs {
  config: ResolvedConfig;
  configFile: string;
  layout: StateLayout;
}

export const BUILTIN_WIRING: Record<BuiltinHopName, (spec: LinkSpec, inputs: BuiltinWiringInputs) => void> = {
  // Nothing: the telemetry: section goes to its metrics process, a service the plan adds (config/telemetry.ts).
  [TELEMETRY_HOP]: () => {},
  // Its rules, the moat.yaml it re-reads when the file changes, where the budgets it spent are kept.
  [POLICY_HOP]: (spec, { config, configFile, layout }) => {
    spec.policy = {
      settings: policySettings(config),
      configFile,
      usageFile: join(layout.stateDir, 'policy-usage.json'),
    };
  },
};

/** Gives the built-in hop `name` what it runs on; the loader let no other name into proxies: as a built-in hop. */
export function wireBuiltinHop(name: string, spec: LinkSpec, inputs: BuiltinWiringInputs): void {
  if (!isBuiltinHop(name)) throw new Error(`unknown built-in hop ${name}`);
  BUILTIN_WIRING[name](spec, inputs);
}
