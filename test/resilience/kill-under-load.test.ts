// kill -9 under load, one process at a time: a built-in hop, a third-party hop, the link in front of
// it, the ledger writer, moat-telemetry's metrics process and nats-server. While a steady load runs, the
// process is SIGKILLed; pm2 restarts it. Checked: the chain serves again within 2 s; meanwhile requests
// fail closed (a 5xx naming the hop, or a broken connection), never a 200 that went round the dead
// process; every 200 has both events at every boundary in the ledger; `moat chain verify` passes.
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyAgent } from 'undici';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { SteadyLoad, type Outcome } from './helpers/load';
import { waitForTraces } from './helpers/ledger-probe';
import { startedAtPerf } from './helpers/procfs';
import { accepts } from '../../supervisor/chain/ports';
import { DIST_DIR } from '../helpers/repo-root';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');
// Hops 1-4; the rewriter, last, stamps x-rewritten-by on every request it forwards.
const PROXIES = `proxies:
  - moat-telemetry
  - moat-policy
  - tinyproxy
  - name: rewriter
    command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}"]
    trust_ca: "{dir}/ca/ca.crt"`;
// Boundaries 0-4, recorded by moat-telemetry, moat-policy, tinyproxy's link, the rewriter's link, egress.
const BOUNDARIES = 5;
const CONCURRENCY = 8;
// A client that got an error waits this long before its next request, as real clients back off; a storm
// of instant retries through the surviving hops would mostly measure how they compete for the CPU.
const PAUSE_AFTER_FAILURE_MS = 50;
const RECOVERY_LIMIT_MS = 2000;
const URL = 'https://api.anthropic.com/v1/models';

interface Target {
  what: string;
  row: (r: any) => boolean;
  /** The hop a failure must name; absent when requests must not fail at all. */
  hop?: number;
}

const TARGETS: Target[] = [
  { what: 'built-in hop (moat-policy)', row: (r) => r.name === 'moat-policy', hop: 2 },
  { what: 'third-party hop (tinyproxy)', row: (r) => r.name === 'tinyproxy' && r.role === 'third-party', hop: 3 },
  { what: "tinyproxy's link", row: (r) => r.name === 'tinyproxy' && r.role === 'link', hop: 3 },
  { what: 'ledger writer', row: (r) => r.name === 'ledger-writer' },
  // It reads events beside the request path: no request may notice it go.
  { what: "moat-telemetry's metrics process", row: (r) => r.role === 'metrics' },
  { what: 'nats-server', row: (r) => r.name === 'nats-server' },
];

/** When (performance.now()) the port, closed by the kill, accepts connections again. */
async function listensAgain(port: number): Promise<number> {
  while (await accepts(port)) await sleep(5);
  while (!(await accepts(port))) await sleep(5);
  return performance.now();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A failure that names the hop: a 5xx with x-moat-error and {hop, hop_name}, or no response at all. */
function failsClosed(o: Outcome, hop: number): boolean {
  if (o.status === 0) return true;
  if (o.status < 500 || !o.moatError) return false;
  try {
    return JSON.parse(o.body).hop === hop;
  } catch {
    return false;
  }
}

describe('resilience: kill -9 under load, one process at a time', function () {
  this.timeout(300_000);
  let agent: ProxyAgent;
  const allOk: string[] = [];
  const figures: string[] = [];

  const { chain, provider } = chainFixture({
    name: 'kills',
    config: (provider) => `name: kills\n${PROXIES}\n${egressTo(provider.port)}\n`,
    beforeCleanup: () => agent?.close(),
  });

  before(async () => {
    agent = await chain.agent();
  });

  after(() => console.log(figures.map((f) => `      ${f}`).join('\n')));

  for (const target of TARGETS) {
    it(
      `${target.what}: serves again within ${RECOVERY_LIMIT_MS / 1000} s, fails closed meanwhile, no event of ` +
        `a 200 lost`,
      async () => {
        const before = await chain.status();
        const victim = before.find(target.row);
        const seenBefore = provider.seen.length;
        const load = new SteadyLoad(agent, URL, CONCURRENCY, PAUSE_AFTER_FAILURE_MS);
        expect(await load.okSince(0, 50, 20_000), 'the chain serves before the kill').to.equal(true);

        const killedAt = performance.now();
        process.kill(victim.pid, 'SIGKILL');
        const listening = victim.port > 0 ? listensAgain(victim.port) : Promise.resolve(NaN);
        await load.okSince(killedAt, 1, 10_000);
        await sleep(1000); // keep the load on the restarted process a while
        const outcomes = await load.stop();

        const firstOk = Math.min(
          ...outcomes.filter((o) => o.status === 200 && o.startedAt >= killedAt).map((o) => o.endedAt),
        );
        const recoveryMs = firstOk - killedAt;
        const failed = outcomes.filter((o) => o.status !== 200);
        const after = await chain.status();
        const restarted = after.find(target.row);
        const spawnedMs = startedAtPerf(restarted.pid) - killedAt;
        const listeningMs = (await listening) - killedAt;
        figures.push(
          `${target.what}: replacement started ${spawnedMs.toFixed(0)} ms, ` +
            `${Number.isNaN(listeningMs) ? 'no port' : `listening ${listeningMs.toFixed(0)} ms`}, first 200 ` +
            `${recoveryMs.toFixed(0)} ms after the kill; ${outcomes.length} requests, ${failed.length} failed ` +
            `(${[...new Set(failed.map((f) => f.moatError ?? f.error ?? f.status))].join(', ') || 'none'})`,
        );

        expect(restarted.pid, 'pm2 restarted it').to.not.equal(victim.pid);
        expect(restarted.restarts).to.equal(victim.restarts + 1);
        expect(recoveryMs, 'ms from the kill to the first 200 after it').to.be.below(RECOVERY_LIMIT_MS);
        if (target.hop === undefined) {
          expect(failed.slice(0, 3), `${failed.length} failed`).to.deep.equal([]);
        } else {
          expect(
            failed.filter((o) => !failsClosed(o, target.hop!)).slice(0, 3),
            'failures that do not name the hop',
          ).to.deep.equal([]);
          // A 200 that started after the kill and ended before the new process existed went round it.
          const replacementAt = startedAtPerf(restarted.pid);
          const early = outcomes.filter((o) => o.status === 200 && o.startedAt > killedAt && o.endedAt < replacementAt);
          expect(early.length, 'requests answered 200 while the process was dead').to.equal(0);
        }
        // Every request the provider saw came through the last hop.
        const unstamped = provider.seen.slice(seenBefore).filter((s) => s.headers['x-rewritten-by'] !== 'fixture');
        expect(unstamped.length, 'requests that reached the provider without passing the rewriter').to.equal(0);

        const ok = outcomes.filter((o) => o.status === 200).map((o) => o.trace);
        allOk.push(...ok);
        const { view, incomplete } = await waitForTraces(chain.layout.ledgerFile, ok, BOUNDARIES, 30_000);
        figures.push(
          `  ${ok.length} requests with 200: ${incomplete.size} with events missing ` +
            `${JSON.stringify([...incomplete.values()])}; ledger ${view.rows} rows, ${view.gapEvents} gap events ` +
            `(${view.dropped} dropped)`,
        );
        const example = [...incomplete.entries()].slice(0, 3).map(([t, m]) => `${t}: ${m.join(' ')}`);
        expect(example, `${incomplete.size} of ${ok.length} traces with 200 lack events`).to.deep.equal([]);
        // No other process of the chain went down with it.
        for (const row of after.filter((r) => !target.row(r)))
          expect(row.restarts, row.name).to.equal(
            before.find((b) => b.name === row.name && b.role === row.role).restarts,
          );
      },
    );
  }

  it('the ledger verifies after all of it, every 200 of every round complete', async () => {
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    const { incomplete } = await waitForTraces(chain.layout.ledgerFile, allOk, BOUNDARIES, 5000);
    expect(incomplete.size).to.equal(0);
    // What killed processes left in their spools was sent again and removed: each holds its open file at most.
    const spools = readdirSync(chain.layout.runDir).filter((d) => d.endsWith('.spool'));
    expect(spools.length, 'one spool per recording process').to.equal(BOUNDARIES);
    for (const d of spools) expect(readdirSync(join(chain.layout.runDir, d)).length, d).to.be.at.most(1);
  });
});
