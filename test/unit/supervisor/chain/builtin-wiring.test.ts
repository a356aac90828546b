// The supervisor's side of the built-in hops is keyed by the hops' own table: the plan wires exactly the hops
// hops/builtin-hops.ts has, and the loader's list of known hops comes from that table.
import { expect } from 'chai';
import { BUILTIN_HOP_NAMES, POLICY_HOP } from '../../../../hops/builtin-hops';
import type { LinkSpec } from '../../../../hops/spec';
import { BUILTIN_WIRING, wireBuiltinHop } from '../../../../supervisor/chain/builtin-wiring';
import { resolveHops } from '../../../../supervisor/config/hop-resolution';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

describe('built-in hops in the plan', () => {
  it('the wiring names the same hops as the hops side, in its order', () => {
    expect(BUILTIN_HOP_NAMES).to.have.length.greaterThan(1);
    expect(Object.keys(BUILTIN_WIRING)).to.deep.equal(BUILTIN_HOP_NAMES);
  });

  it('plans every hop of the table as a built-in hop; moat-policy alone gets policy settings', () => {
    const plan = planFromYaml(`proxies: [${BUILTIN_HOP_NAMES.join(', ')}]\n`, 'builtin');
    const builtin = plan.processes.filter((p) => p.role === 'builtin');
    expect(builtin.map((p) => p.name)).to.deep.equal(BUILTIN_HOP_NAMES);
    expect(builtin.filter((p) => p.spec!.policy).map((p) => p.name)).to.deep.equal([POLICY_HOP]);
  });

  it("the unknown-hop message lists the table's hops first", () => {
    expect(() => resolveHops(['moat-polcy'], () => 'moat.yaml:1:1')).to.throw(
      `(did you mean "${POLICY_HOP}"?) (known: ${BUILTIN_HOP_NAMES.join(', ')}, `,
    );
  });

  it('refuses to wire a name the table does not have', () => {
    expect(() => wireBuiltinHop('moat-nothing', {} as LinkSpec, {} as never)).to.throw(
      'unknown built-in hop moat-nothing',
    );
  });
});
