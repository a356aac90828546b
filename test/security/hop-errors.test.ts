// The mark the Moat process after a third-party hop puts on its answers (x-moat-via, hops/logic/hop-answer.ts) is
// what lets the link in front of the hop tell the hop's own error pages from answers of the chain after it. Attacked
// as an agent would, through a destination it controls: a 5xx carrying a forged mark (another hop's number, or an
// empty one) must still reach the agent as the destination sent it, not be taken for the hop's own page and replaced;
// and the mark never reaches the agent. Both hold because every Moat process drops the mark from what it passes back
// and the process after the hop sets its own.
import { expect } from 'chai';
import { PROVIDER_ERROR_BODY } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import { egressTo } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';

describe('security: the mark behind a third-party hop (tinyproxy) cannot be forged by a destination', function () {
  this.timeout(120_000);
  const { chain, provider } = chainFixture({
    name: 'viamark',
    config: (p) => `name: viamark\nproxies: [tinyproxy, moat-telemetry]\n${egressTo(p.port)}`,
  });

  for (const via of ['1', '', '2', '2, 1'])
    it(`a destination's 502 with x-moat-via: "${via}" passes unchanged and without the mark`, async () => {
      const agent = await chain.agent();
      try {
        const res = await timedRequest(agent, `https://api.anthropic.com/status/502?via=${encodeURIComponent(via)}`);
        expect(res.status).to.equal(502);
        expect(res.body, 'the destination answer, not moat JSON blaming the hop').to.equal(PROVIDER_ERROR_BODY);
        expect(res.headers['x-moat-error']).to.equal(undefined);
        expect(res.headers['x-moat-via']).to.equal(undefined);
        expect(provider.seen.at(-1)?.path).to.contain('/status/502');
      } finally {
        await agent.close();
      }
    });

  it("an agent's own x-moat-via request header changes nothing it gets", async () => {
    const agent = await chain.agent();
    try {
      const res = await timedRequest(agent, 'https://api.anthropic.com/status/503', { headers: { 'x-moat-via': '2' } });
      expect(res.status).to.equal(503);
      expect(res.body).to.equal(PROVIDER_ERROR_BODY);
      expect(res.headers['x-moat-via']).to.equal(undefined);
    } finally {
      await agent.close();
    }
  });
});
