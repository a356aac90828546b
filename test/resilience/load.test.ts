// Load: 10,000 requests at concurrency 64 through the built-in chain (TLS at every boundary) to the
// fake provider. None may fail, and none of their events may be lost: once the ledger writer has
// caught up the ledger holds exactly requests x boundaries x 2 events, and `moat chain verify` passes.
import { expect } from 'chai';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { sendMany } from './helpers/load';
import { readLedgerView, waitForRows } from './helpers/ledger-probe';

const REQUESTS = 10_000;
const CONCURRENCY = 64;
// [moat-telemetry, moat-policy]: boundaries 0 (recorded by telemetry), 1 (policy) and 2 (egress).
const BOUNDARIES = 3;

describe('resilience: load through the built-in chain', function () {
  this.timeout(600_000);
  const { chain, provider } = chainFixture({
    name: 'load',
    config: (provider) => `name: load\nproxies: [moat-telemetry, moat-policy]\n${egressTo(provider.port)}\n`,
  });

  it(
    `${REQUESTS} requests at concurrency ${CONCURRENCY}: none fails, every event reaches the ledger, verify ` +
      `passes`,
    async () => {
      const agent = await chain.agent();
      const t0 = performance.now();
      const outcomes = await sendMany(agent, 'https://api.anthropic.com/v1/models', REQUESTS, CONCURRENCY);
      const seconds = (performance.now() - t0) / 1000;
      await agent.close();
      const failed = outcomes.filter((o) => o.status !== 200);
      console.log(
        `      load: ${REQUESTS} requests in ${seconds.toFixed(1)} s (${Math.round(REQUESTS / seconds)} ` +
          `req/s), ${failed.length} failed`,
      );
      expect(failed.slice(0, 5), `${failed.length} failed`).to.deep.equal([]);
      expect(provider.seen.length).to.equal(REQUESTS);

      const expected = REQUESTS * BOUNDARIES * 2;
      const rows = await waitForRows(chain.layout.ledgerFile, expected, 180_000);
      const view = await readLedgerView(chain.layout.ledgerFile);
      console.log(`      ledger: ${rows} rows (expected ${expected}), ${view.gapEvents} gap events`);
      expect(view.gapEvents, 'gap events (dropped events)').to.equal(0);
      expect(rows).to.equal(expected);
      const traces = new Set(outcomes.map((o) => o.trace));
      expect(
        [...view.byTrace.keys()].filter((t) => !traces.has(t)),
        'events of traces nobody sent',
      ).to.deep.equal([]);

      const verify = await chain.cli(['verify']);
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
      // No process of the chain died on the way.
      for (const row of await chain.status()) expect(row.restarts, row.name).to.equal(0);
    },
  );
});
