// moat.yaml's sections that need more than the schema, in one list: what each checks when the file loads and, for a
// section that adds to the plan once every process is placed, its wiring. The loader runs the checks in this order
// (the first error a file with several problems shows depends on it); the plan runs the wirings in this order.
import type { ResolvedConfig } from './types';
import type { JsonPath } from './schema-check';
import type { SectionPlanFields, SectionWiringInputs } from '../chain/plan-types';
import { checkExposedHops, checkGrants, wireGrants } from './grants';
import { checkPolicy } from './policy';
import { checkTelemetry, wireTelemetry } from './telemetry';
import { checkIntercept } from './tls';
import { checkEvents } from './events';
import { checkUpstreamProxy, wireUpstreamProxy } from './upstream-proxy';

export interface ConfigSection {
  name: string;
  check(config: ResolvedConfig, where: (path: JsonPath) => string): void;
  wire?(config: ResolvedConfig, inputs: SectionWiringInputs): SectionPlanFields;
}

export const CONFIG_SECTIONS: readonly ConfigSection[] = [
  { name: 'grants', check: checkGrants, wire: wireGrants },
  { name: 'policy', check: checkPolicy },
  // With grants, every hop is a way to spend a key: none may listen where other machines reach it.
  { name: 'proxies with grants', check: checkExposedHops },
  { name: 'telemetry', check: checkTelemetry, wire: wireTelemetry },
  { name: 'tls', check: checkIntercept },
  { name: 'events', check: checkEvents },
  { name: 'egress.upstream_proxy', check: checkUpstreamProxy, wire: wireUpstreamProxy },
];

/** Every section's checks, in order; the first that fails throws its MoatError. */
export function checkSections(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  for (const section of CONFIG_SECTIONS) section.check(config, where);
}

/**
 * Every section's wiring, in order: grants before telemetry, so the plan's fields and the ports wiring takes come
 * in the order they always did.
 */
export function wireSections(config: ResolvedConfig, inputs: SectionWiringInputs): SectionPlanFields {
  return Object.assign({}, ...CONFIG_SECTIONS.map((section) => section.wire?.(config, inputs) ?? {}));
}
