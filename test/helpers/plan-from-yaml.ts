// A plan from a moat.yaml text, as unit tests of the plan's wiring need it: by default the config file named `x`, a
// fixed token and link secret, ports counting up from 30001, state under /h/<chain> (the config's name unless given).
import { parseConfig } from '../../supervisor/config/load';
import { buildPlan } from '../../supervisor/chain/plan';
import type { Plan } from '../../supervisor/chain/plan-types';
import { stateLayout } from '../../supervisor/chain/state';

/** What a test may set differently from the defaults above. */
export interface PlanFromYamlOptions {
  file?: string;
  home?: string;
  token?: string;
  linkSecret?: string;
  /** Ports are allocated from portBase + 1 up. */
  portBase?: number;
  grantKeys?: string[];
}

export function planFromYaml(yaml: string, chain?: string, options: PlanFromYamlOptions = {}): Plan {
  const file = options.file ?? 'x';
  const { config } = parseConfig(yaml, file);
  let port = options.portBase ?? 30000;
  return buildPlan({
    config,
    configFile: file,
    layout: stateLayout(chain ?? config.name, options.home ?? '/h'),
    token: options.token ?? 'T',
    linkSecret: options.linkSecret ?? 'S',
    allocatePort: () => ++port,
    ...(options.grantKeys ? { grantKeys: options.grantKeys } : {}),
  });
}
