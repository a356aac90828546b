// replay --skip-hop and bisect: a recorded request sent again with one hop bypassed (its link sends it straight to
// the process after it), and the hop whose absence changes the outcome found by skipping each in turn. A rewriting
// hop (its change disappears when skipped) and a breaking one (it cuts bodies holding "break-me": the provider
// answers 400) sit between moat-telemetry and moat-policy, which is never skipped.
import { expect } from 'chai';
import { join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { DIST_DIR } from '../helpers/repo-root';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');
const BREAKER = join(DIST_DIR, 'test', 'fixtures', 'breaking-proxy.js');
const URL = 'https://api.openai.com/v1/chat/completions';

// Hop 2 rewrites (its own CA, like mitmproxy), hop 3 breaks marked requests.
const HOPS = [
  `{name: rewriter, isolation: none, trust_ca: "{dir}/ca/ca.crt",
     command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}"]}`,
  `{name: breaker, isolation: none, tls: plain,
     command: ["${process.execPath}", "${BREAKER}", --port, "{port}", --break-on, break-me]}`,
];

describe('moat chain replay --skip-hop and bisect', function () {
  this.timeout(180_000);
  const { chain, provider } = chainFixture({
    config: (p) => `proxies:
  - moat-telemetry
${HOPS.map((h) => `  - ${h}`).join('\n')}
  - moat-policy
capture:
  bodies: full
${egressTo(p.port, ['api.openai.com'])}
`,
  });

  const traces: Record<'ok' | 'broken', string> = { ok: '', broken: '' };

  before(async () => {
    const agent = await chain.agent();
    for (const [which, content] of [
      ['ok', 'hello'],
      ['broken', 'break-me please'],
    ] as const) {
      const body = JSON.stringify({ model: 'claude-x', messages: [{ role: 'user', content }] });
      const res = await timedRequest(agent, URL, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, res.body).to.equal(which === 'ok' ? 200 : 400);
      traces[which] = String(provider.seen[provider.seen.length - 1].headers.traceparent).split('-')[1];
    }
    await agent.close();
    // Both requests' boundary 0 events are in the ledger before they are replayed.
    await chain.ledgerEvents(
      (e) => e.boundary === 0 && e.direction === 'response' && Object.values(traces).includes(e.trace),
      2,
    );
  });

  it('the recorded response carries the rewriting hop’s change', async () => {
    const res = await chain.cli(['replay', traces.ok, '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const r = JSON.parse(res.stdout);
    expect(r.diff.status).to.deep.equal({ recorded: 200, replayed: 200 });
    expect(r.diff.body).to.deep.equal([]);
    expect(provider.seen[provider.seen.length - 1].body).to.contain('rewritten-model');
  });

  it('--skip-hop 2: the rewriting hop’s changes disappear, request and response, and the diff says so', async () => {
    const res = await chain.cli(['replay', traces.ok, '--skip-hop', '2', '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const r = JSON.parse(res.stdout);
    expect(r.skip).to.deep.equal({ hop: 2, name: 'rewriter', skipped: true });
    expect(r.diff.status).to.deep.equal({ recorded: 200, replayed: 200 });
    expect(r.diff.body).to.include('-rewritten').and.include('model: "rewritten-model" -> "claude-x"');
    expect(r.diff.headers.removed).to.include('x-fixture-response');
    expect(r.diff.headers.added, 'the skip mark is not a change of the response').to.not.include('x-moat-skipped-hop');
    // The provider got the model as the agent sent it: the hop saw nothing.
    const sent = provider.seen[provider.seen.length - 1];
    expect(JSON.parse(sent.body).model).to.equal('claude-x');
    expect(sent.headers['x-rewritten-by']).to.equal(undefined);
    expect(sent.headers['x-moat-skip-hop'], 'x-moat-* never leaves egress').to.equal(undefined);
    // Boundary 1 (link 2's) recorded the request as skipped round hop 2.
    const events = await chain.ledgerEvents(
      (e) => e.trace === r.replay_trace && e.boundary === 1 && e.direction === 'request',
      1,
    );
    expect(events[0].decision).to.equal('skipped');
    // The signed ask is in no record: boundary 0 (hop 1's, which passed it on) shows it masked.
    const [atZero] = await chain.ledgerEvents(
      (e) => e.trace === r.replay_trace && e.boundary === 0 && e.direction === 'request',
      1,
    );
    expect(atZero.headers?.['x-moat-skip-hop']).to.equal('[REDACTED]');
    // The text form names the hop skipped.
    const text = await chain.cli(['replay', traces.ok, '--skip-hop', '2']);
    expect(text.stdout).to.contain('without hop 2 (rewriter)').and.contain('-rewritten');
  });

  it('--skip-hop 4 (moat-policy) is refused, naming the hop', async () => {
    const res = await chain.cli(['replay', traces.ok, '--skip-hop', '4']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('MOAT_ERR_HOP_NOT_SKIPPABLE').and.contain('hop 4 (moat-policy) is a policy hop');
    const far = await chain.cli(['replay', traces.ok, '--skip-hop', '7']);
    expect(far.code).to.equal(2);
    expect(far.stderr).to.contain('--skip-hop needs a hop number from 1 to 4');
  });

  it('bisect names the breaking hop: without it 400 becomes 200; moat-policy is not skippable', async () => {
    const res = await chain.cli(['bisect', traces.broken, '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const r = JSON.parse(res.stdout);
    expect(r.baseline.status).to.equal(400);
    const byHop = Object.fromEntries(r.hops.map((h: { hop: number }) => [h.hop, h]));
    expect(byHop[1]).to.include({ skippable: true, skipped: true }).and.not.have.property('change');
    expect(byHop[3]).to.include({ name: 'breaker', skipped: true });
    expect(byHop[3].change.status).to.deep.equal({ baseline: 400, replayed: 200 });
    // The rewriter changes the body (its mark), never the status.
    expect(byHop[2].change).to.not.have.property('status');
    expect(byHop[4]).to.include({ name: 'moat-policy', skippable: false, policy: true });
    expect(r.culprits).to.include(3).and.not.include(1).and.not.include(4);
    const text = await chain.cli(['bisect', traces.broken]);
    expect(text.stdout)
      .to.contain('hop 3 (breaker): without it the outcome changes: status 400 -> 200')
      .and.contain('hop 4 (moat-policy): not skippable')
      .and.contain('hop 1 (moat-telemetry): without it the outcome is the same');
  });

  it('bisect on a request no hop breaks names the rewriting hop, by its body field only', async () => {
    const res = await chain.cli(['bisect', traces.ok, '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const r = JSON.parse(res.stdout);
    expect(r.culprits).to.deep.equal([2]);
    const rewriter = r.hops.find((h: { hop: number }) => h.hop === 2);
    expect(rewriter.change.body).to.include('-rewritten');
  });
});
