// A plan from a moat.yaml text, as unit tests of the plan's wiring need it: the config file named `x`, a fixed
// token and link secret, ports counting up from 30001, state under /h/<chain>.
import { parseConfig } from '../../supervisor/config/load';
import { buildPlan } from '../../supervisor/chain/plan';
import type { Plan } from '../../supervisor/chain/plan-types';
import { stateLayout } from '../../supervisor/chain/state';

export function planFromYaml(yaml: string, chain: string): Plan {
  const { config } = parseConfig(yaml, 'x');
  let port = 30000;
  return buildPlan({
    config,
    configFile: 'x',
    layout: stateLayout(chain, '/h'),
    token: 'T',
    linkSecret: 'S',
    allocatePort: () => ++port,
  });
}
