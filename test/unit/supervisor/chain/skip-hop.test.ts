// Which hops replay --skip-hop may skip: never moat-policy, never a hop marked policy: true (agentreserve's manifest
// is), never a last hop that dials directly; only the others' processes get the skip key.
import { expect } from 'chai';
import { planFromYaml } from '../../../helpers/plan-from-yaml';
import { skippability } from '../../../../supervisor/chain/skip-hop';
import { MoatError } from '../../../../supervisor/errors';

const EGRESS = 'egress:\n  allow: [api.anthropic.com]\n';
const hop = (name: string, extra = '') =>
  `  - name: ${name}\n    command: [proxy, "{port}"]\n    isolation: none\n${extra}`;

describe('skip-hop: which hops a replay may skip', () => {
  const plan = planFromYaml(
    `proxies:\n  - moat-telemetry\n${hop('rewriter')}${hop('guard', '    policy: true\n')}` +
      `  - {use: chopratejas/headroom, isolation: none}\n  - moat-policy\n${hop('last', '    dials_directly: true\n')}${EGRESS}`,
  );
  const rows: [number, boolean, string][] = [
    [1, true, ''],
    [2, true, ''],
    [3, false, 'hop 3 (guard) is a policy hop (policy: true): it is never skipped'],
    [4, true, ''],
    [5, false, 'hop 5 (moat-policy) is a policy hop (moat-policy): it is never skipped'],
    [6, false, 'hop 6 (last) dials destinations itself and is last: there is no Moat process after it to send to'],
  ];
  for (const [n, ok, reason] of rows)
    it(`hop ${n}: ${ok ? 'skippable' : reason}`, () => {
      const s = skippability(plan.processes, n);
      expect(s.ok).to.equal(ok);
      if (!s.ok) expect(s.reason).to.contain(reason);
      // Only the processes of skippable hops hold the key: a policy hop's cannot check (nor honour) an ask.
      expect(s.process.spec!.skipKeyFile !== undefined).to.equal(ok);
    });

  it('the key is a chain credential of its own, written 0600 by up with the others', () => {
    const file = plan.processes[1].spec!.skipKeyFile!;
    expect(file).to.match(/links\/replay-skip\.token$/);
    expect(plan.linkTokens![file]).to.match(/^[0-9a-f]{64}$/);
    expect(Object.entries(plan.linkTokens!).filter(([, v]) => v === plan.linkTokens![file])).to.have.length(1);
    for (const p of plan.processes.filter((x) => x.role === 'ingress' || x.role === 'egress'))
      expect(p.spec!.skipKeyFile).to.equal(undefined);
  });

  it('agentreserve is a policy hop from its manifest', () => {
    const p = planFromYaml(`proxies:\n  - moat-telemetry\n  - {use: agentreserve, isolation: netns}\n${EGRESS}`);
    const s = skippability(p.processes, 2);
    expect(s).to.include({ ok: false, policy: true });
  });

  it('a hop number out of range is a usage error', () => {
    try {
      skippability(plan.processes, 7);
      expect.fail('no error');
    } catch (err) {
      expect((err as MoatError).code).to.equal('MOAT_ERR_USAGE');
      expect((err as Error).message).to.contain('from 1 to 6');
    }
  });
});
