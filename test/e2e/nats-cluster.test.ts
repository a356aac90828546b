// Chains on a three-server NATS JetStream cluster (issue 23): the stream is kept by three servers, and
// kill -9 of the one that leads it, under steady load, loses nothing: every request passes, every
// event reaches the ledger exactly once (no gap event, none twice), verify passes, and `moat ledger
// serve` keeps serving. Two serves on two directories each keep a full copy, and the one killed
// catches up when it is back. With events.replicas: 1, the death of the stream's server is reported
// (status) and recording resumes by itself when it returns.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { request, type ProxyAgent } from 'undici';
import type { ChainView } from '../../supervisor/dashboard/chain-view';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { Serve, ledgerCli } from '../helpers/ledger-serve';
import { NatsCluster } from '../helpers/nats-cluster';
import { timedRequest } from '../helpers/proxy-client';
import { tmpDir } from '../helpers/tmp';
import { Ledger } from '../../supervisor/ledger/ledger';
import { SUBJECTS } from '../../hops/events/subjects';

// proxies: [moat-telemetry]: boundaries 0 and 1, each a request and a response event.
const EVENTS_PER_REQUEST = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Requests through the chain, two at a time, until stopped: every status, and the slowest one. */
function steadyLoad(agent: ProxyAgent): {
  sent: () => number;
  stop: () => Promise<{ statuses: number[]; maxMs: number }>;
} {
  const statuses: number[] = [];
  let running = true;
  let maxMs = 0;
  const workers = Array.from({ length: 2 }, async () => {
    while (running) {
      const t0 = Date.now();
      const status = await timedRequest(agent, 'https://api.anthropic.com/v1/models').then(
        (res) => res.status,
        () => 0,
      );
      statuses.push(status);
      maxMs = Math.max(maxMs, Date.now() - t0);
      await sleep(20);
    }
  });
  return {
    sent: () => statuses.length,
    async stop() {
      running = false;
      await Promise.all(workers);
      return { statuses, maxMs };
    },
  };
}

/** Rows, gap events and distinct traces of a ledger. */
async function ledgerFacts(file: string): Promise<{ rows: number; gaps: number; traces: number }> {
  if (!existsSync(file)) return { rows: 0, gaps: 0, traces: 0 };
  const l = await Ledger.open(file, true);
  try {
    const rows = await l.rows();
    return {
      rows: rows.length,
      gaps: rows.filter((r) => r.direction === 'gap').length,
      traces: new Set(rows.map((r) => r.trace)).size,
    };
  } finally {
    await l.close();
  }
}

/** The ledger's facts once it holds `expected` rows (or after 60 s), and again 1.5 s later: nothing more arrives. */
async function settled(file: string, expected: number): Promise<{ rows: number; gaps: number; traces: number }> {
  for (let i = 0; i < 600 && (await ledgerFacts(file)).rows < expected; i++) await sleep(100);
  await sleep(1500);
  return ledgerFacts(file);
}

describe('a chain on a NATS cluster survives the death of any one server', function () {
  this.timeout(300_000);
  const work = tmpDir('moat-ha-');
  const cluster = new NatsCluster(3);
  let provider: FakeProvider;
  const chains: CliChain[] = [];
  const serves: Serve[] = [];
  const outputs: string[] = [];
  const figures: string[] = [];

  const config = (chain: CliChain, extra: string, dashboard = false) => `name: ${chain.chainName}
proxies: [moat-telemetry]
dashboard:
  enabled: ${dashboard}
events:
  nats_url: ${cluster.url}
${extra}
${egressTo(provider.port)}
`;

  async function upChain(name: string, extra: string, dashboard = false): Promise<CliChain> {
    const chain = new CliChain(name);
    chains.push(chain);
    chain.writeConfig(config(chain, extra, dashboard));
    outputs.push((await chain.up()).stdout);
    return chain;
  }

  /** kill -9 of the stream's leader: the server killed and how long until the stream had another leader. */
  async function killLeader(stream: string): Promise<{ killed: string; ms: number }> {
    const { leader } = await cluster.placement(stream);
    const t0 = Date.now();
    await cluster.kill(leader);
    for (;;) {
      const now = await cluster.placement(stream, 60_000);
      if (now.leader !== leader) return { killed: leader, ms: Date.now() - t0 };
      await sleep(100);
    }
  }

  /** Until every server is back in the stream's group and current. */
  async function healed(stream: string): Promise<void> {
    const nc = await cluster.connect();
    try {
      for (let i = 0; i < 600; i++) {
        const info = await (await nc.jetstreamManager({ timeout: 2000 })).streams.info(stream).catch(() => null);
        const replicas = info?.cluster?.replicas ?? [];
        if (info?.cluster?.leader && replicas.length === 2 && replicas.every((r) => r.current && !r.offline)) return;
        await sleep(100);
      }
      throw new Error(`stream ${stream} did not heal`);
    } finally {
      await nc.close();
    }
  }

  before(async () => {
    provider = await new FakeProvider().start();
    await cluster.start();
  });

  after(async () => {
    for (const s of serves) await s.kill('SIGKILL');
    for (const c of chains) await c.cleanup();
    await cluster.stop();
    await provider?.stop();
    work.remove();
    // The figures measured, for the report.
    if (figures.length) console.log(`      ${figures.join('\n      ')}`);
  });

  it(
    'events.ledger: central with two serves: the leader killed under load, every event in both ledgers once, ' +
      'the killed serve catches up',
    async () => {
      const chain = await upChain('ha-central', '  ledger: central');
      const stream = SUBJECTS.stream('ha-central');
      const placed = await cluster.placement(stream);
      // The default on a cluster of three: three replicas.
      expect([placed.leader, ...placed.replicas].sort()).to.deep.equal(['n1', 'n2', 'n3']);
      const dirs = [join(work.path, 'keeper-a'), join(work.path, 'keeper-b')];
      const env = { MOAT_NATS_URL: cluster.url };
      const a = new Serve(['--dir', dirs[0]], env);
      let b = new Serve(['--dir', dirs[1]], env);
      serves.push(a, b);
      await a.start();
      await b.start();

      const agent = await chain.agent();
      const load = steadyLoad(agent);
      await sleep(2000);
      // The second keeper dies too and misses what follows.
      await b.kill('SIGKILL');
      const sentAtKill = load.sent();
      const { killed, ms } = await killLeader(stream);
      const sentAtLeader = load.sent();
      figures.push(
        `central: stream leader ${killed} killed -9; new leader after ${ms} ms; ${sentAtLeader - sentAtKill} ` +
          `requests (${(sentAtLeader - sentAtKill) * EVENTS_PER_REQUEST} events) sent meanwhile`,
      );
      await sleep(4000);
      await cluster.restart(killed);
      await sleep(2000);
      const { statuses, maxMs } = await load.stop();
      await agent.close();
      figures.push(`central: ${statuses.length} requests in all, slowest ${Math.round(maxMs)} ms`);
      expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
      await healed(stream);

      b = new Serve(['--dir', dirs[1]], env);
      serves.push(b);
      await b.start();
      const expected = statuses.length * EVENTS_PER_REQUEST;
      for (const dir of dirs) {
        const facts = await settled(join(dir, 'ha-central', 'ledger.db'), expected);
        expect(facts, dir).to.deep.equal({ rows: expected, gaps: 0, traces: statuses.length });
        const verify = await ledgerCli(['verify', '--dir', dir, '--chain', 'ha-central'], env);
        expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
      }
      for (const s of serves) {
        expect(s.output).not.to.contain('is gone');
        outputs.push(s.output);
      }
      // Serve never stopped: the first one still serves the chain.
      expect(a.output).to.contain('serving stream MOAT_ha_central');
    },
  );

  it('events.ledger: local on the cluster: the leader killed under load, every event once, verify passes', async () => {
    const chain = await upChain('ha-local', '');
    const stream = SUBJECTS.stream('ha-local');
    const agent = await chain.agent();
    const load = steadyLoad(agent);
    await sleep(2000);
    const sentAtKill = load.sent();
    const { killed, ms } = await killLeader(stream);
    figures.push(
      `local: stream leader ${killed} killed -9; new leader after ${ms} ms; ${load.sent() - sentAtKill} requests ` +
        `sent meanwhile`,
    );
    await sleep(4000);
    await cluster.restart(killed);
    await sleep(2000);
    const { statuses } = await load.stop();
    await agent.close();
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    const expected = statuses.length * EVENTS_PER_REQUEST;
    const facts = await settled(chain.layout.ledgerFile, expected);
    expect(facts).to.deep.equal({ rows: expected, gaps: 0, traces: statuses.length });
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    const status = await chain.cli(['status']);
    outputs.push(status.stdout, status.stderr);
    expect(status.stdout).to.match(/ledger: ok/);
    expect(status.stdout).to.match(/stream MOAT_ha_local: 3 replicas on cluster moat-test/);
    await healed(stream);
  });

  it('events.replicas: 1: the death of its server is reported, and recording resumes when it is back', async () => {
    // A serve of every chain on the NATS (the first test's, or one of its own when run alone) reads this one too.
    if (serves.length === 0) {
      serves.push(new Serve(['--dir', join(work.path, 'keeper-a')], { MOAT_NATS_URL: cluster.url }));
      await serves[0].start();
    }
    const chain = await upChain('ha-single', '  replicas: 1', true);
    const stream = SUBJECTS.stream('ha-single');
    const placed = await cluster.placement(stream);
    expect(placed.replicas).to.deep.equal([]);
    const agent = await chain.agent();
    const first = steadyLoad(agent);
    await sleep(1000);
    const killedAt = Date.now();
    await cluster.kill(placed.leader);
    // Requests pass meanwhile; the ledger cannot record, and says so (the writer asks its consumer every 5 s).
    let status = await chain.cli(['status']);
    for (let i = 0; i < 60 && !/ledger: FAILING/.test(status.stdout); i++) {
      await sleep(500);
      status = await chain.cli(['status']);
    }
    figures.push(`replicas 1: status says the ledger is FAILING ${Date.now() - killedAt} ms after the kill`);
    // The serve's own writer for this chain notices on its own schedule, which may come after the chain's writer's:
    // the server is brought back only once it has said so too (CI twice restarted it before the serve noticed).
    const serveSaid = /\[ha-single\] .*(does not answer|1 replica, on n\d)/;
    for (let i = 0; i < 60 && !serveSaid.test(serves[0].output); i++) await sleep(500);
    figures.push(`replicas 1: the serve says so ${Date.now() - killedAt} ms after the kill`);
    outputs.push(status.stdout, status.stderr);
    // The dashboard says so too: the writer's health, and the stream that does not answer.
    // (status --json exits 1 meanwhile, as status does.)
    const rows = JSON.parse((await chain.cli(['status', '--json'])).stdout) as { role: string; url?: string }[];
    const dashboard = new URL(rows.find((r) => r.role === 'dashboard')!.url!);
    const view = await request(`${dashboard.origin}/_/api/chain`, {
      headers: { authorization: `Bearer ${dashboard.searchParams.get('token')}` },
    }).then((r) => r.body.json() as Promise<ChainView>);
    expect(view.ledger?.state).to.equal('failing');
    expect(view.ledger?.reason).to.match(/1 replica, on n\d/);
    expect(view.stream?.problem).to.match(/does not answer/);
    expect(status.code, status.stdout).to.equal(1);
    expect(status.stdout, status.stdout).to.match(/ledger: FAILING since .*1 replica, on /);
    const t0 = Date.now();
    await cluster.restart(placed.leader);
    const { statuses } = await first.stop();
    await agent.close();
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    const expected = statuses.length * EVENTS_PER_REQUEST;
    const facts = await settled(chain.layout.ledgerFile, expected);
    figures.push(
      `replicas 1: ${statuses.length} requests across the death of ${placed.leader}; all ${expected} events in ` +
        `the ledger ${Date.now() - t0} ms after its restart (incl. 1.5 s settle)`,
    );
    expect(facts).to.deep.equal({ rows: expected, gaps: 0, traces: statuses.length });
    // The serve kept its writer for this chain, said why it waited, and caught up.
    const serve = serves[0];
    // Its whole output in the message when it said nothing of it (CI saw that once, with no way to tell why).
    expect(serve.output, serve.output.slice(-4000)).to.match(serveSaid);
    expect(serve.output).not.to.contain('is gone');
    const central = await settled(join(work.path, 'keeper-a', 'ha-single', 'ledger.db'), expected);
    expect(central).to.deep.equal({ rows: expected, gaps: 0, traces: statuses.length });
    for (let i = 0; i < 100 && !/ledger: ok/.test((await chain.cli(['status'])).stdout); i++) await sleep(200);
    expect((await chain.cli(['status'])).stdout).to.match(/ledger: ok/);
  });

  it('a stream made with 1 replica is raised to 3 at up, its consumers and heads are kept by 3, and 5 are refused', async () => {
    const nc = await cluster.connect();
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({
        name: SUBJECTS.stream('ha-raise'),
        subjects: [SUBJECTS.chain('ha-raise')],
        num_replicas: 1,
      });
      const chain = await upChain('ha-raise', '');
      expect((await jsm.streams.info(SUBJECTS.stream('ha-raise'))).config.num_replicas).to.equal(3);
      // The new replicas may be "(catching up)" for a moment (a server the test before restarted is slow to be
      // current): status says so, and is asked again until all three are current.
      const placed = /stream MOAT_ha_raise: 3 replicas on cluster moat-test: n\d \(leader\), n\d, n\d/;
      let status = await chain.cli(['status']);
      for (let i = 0; i < 30 && !placed.test(status.stdout); i++) {
        await sleep(500);
        status = await chain.cli(['status']);
      }
      outputs.push(status.stdout);
      expect(status.stdout, status.stdout).to.match(placed);
      // The first test's chain: both serves' consumers and its bucket of signed heads.
      const consumers = [];
      for await (const c of jsm.consumers.list(SUBJECTS.stream('ha-central'))) consumers.push(c.config.num_replicas);
      expect(consumers).to.deep.equal([3, 3]);
      expect((await jsm.streams.info('KV_MOAT_ha_central_heads')).config.num_replicas).to.equal(3);
    } finally {
      await nc.close();
    }
    const five = new CliChain('ha-five');
    chains.push(five);
    five.writeConfig(config(five, '  replicas: 5'));
    const res = await five.cli(['up', '-d']);
    outputs.push(res.stdout, res.stderr);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('MOAT_ERR_STREAM_REPLICAS');
    expect(res.stderr).to.contain('events.replicas: 5: the NATS cannot place stream MOAT_ha_five on 5 servers');
  });

  it('no output, status or serve log shows the cluster password', () => {
    for (const text of outputs) expect(text).not.to.contain(cluster.password);
  });
});
