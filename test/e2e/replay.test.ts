// moat chain replay: a recorded request sent again into hop K; the diff shows what changed in the chain since.
import { expect } from 'chai';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';

describe('moat chain replay', function () {
  this.timeout(120_000);
  const config = (rules: string) => `proxies: [moat-telemetry, moat-policy]
capture:
  bodies: full
policy:
  rules:${rules}
${egressTo(provider.port)}
`;
  const { chain, provider } = chainFixture({ config: () => config(' []') });
  let trace = '';

  before(async () => {
    const agent = await chain.agent();
    const body = JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] });
    const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-api-key': 'agent-key-never-recorded' },
    });
    await agent.close();
    expect(res.status).to.equal(200);
    trace = String(provider.seen[provider.seen.length - 1].headers.traceparent).split('-')[1];
    // The events of the first request are in the ledger before replaying it.
    for (let i = 0; i < 50; i++) {
      const out = await chain.cli(['events', '--trace', trace, '--json']);
      if (out.stdout.trim().split('\n').length >= 6) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it(
    'replays into hop 1 with the same outcome; the provider ' + 'gets the same body without the credential header',
    async () => {
      const res = await chain.cli(['replay', trace, '--json']);
      expect(res.code, res.stderr).to.equal(0);
      const result = JSON.parse(res.stdout);
      expect(result).to.include({ trace, from_hop: 1, hop_name: 'moat-telemetry' });
      expect(result.replay_trace)
        .to.match(/^[0-9a-f]{32}$/)
        .and.not.equal(trace);
      expect(result.diff.status).to.deep.equal({ recorded: 200, replayed: 200 });
      expect(result.diff.body).to.deep.equal([]);
      expect(res.stderr).to.contain('not replayed: x-api-key');
      const [first, again] = provider.seen.slice(-2);
      expect(again.body).to.equal(first.body);
      expect(again.headers['x-api-key']).to.equal(undefined);
      expect(again.headers['x-moat-replay-of'], 'x-moat-* never leaves egress').to.equal(undefined);
    },
  );

  it(
    'after a hop changed (a deny rule added to moat-policy), ' + 'replay from hop 2 shows 200 -> 403 and the new body',
    async () => {
      chain.writeConfig(
        config(`
    - id: no-messages
      match: "api.anthropic.com/v1/messages"
      action: deny
      reason: replay test`),
      );
      let out = '';
      for (let i = 0; i < 40; i++) {
        const res = await chain.cli(['replay', trace, '--from-hop', '2']);
        out = res.stdout;
        if (out.includes('status 200 -> 403')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).to.contain(`replayed trace ${trace} into hop 2 (moat-policy)`).and.contain('status 200 -> 403');
      expect(out).to.contain('+error: "policy_denied"').and.contain('+rule: "no-messages"');
    },
  );

  it('replayed requests are marked in the ledger with the trace they replay', async () => {
    // Events reach the ledger in the hops' 100 ms bursts and the writer's next fetch: looked for until they are there.
    let replayed: Awaited<ReturnType<typeof chain.events>> = [];
    for (let i = 0; i < 50 && replayed.length === 0; i++) {
      replayed = (await chain.events()).filter((e) => e.replay_of === trace);
      if (replayed.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(replayed.length).to.be.greaterThan(0);
    expect(new Set(replayed.map((e) => e.trace)).has(trace)).to.equal(false);
  });

  it('names a trace that is not in the ledger, and a hop out of range', async () => {
    const missing = await chain.cli(['replay', '0'.repeat(32)]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('no events for trace').and.contain('MOAT_ERR_TRACE_NOT_FOUND');
    const far = await chain.cli(['replay', trace, '--from-hop', '9']);
    expect(far.code).to.equal(2);
    expect(far.stderr).to.contain('--from-hop needs a hop number from 1 to 3 (egress), got 9');
  });
});
