// The chain's stream deleted while traffic flows: `status` fails and names the ledger, the dashboard
// says so, the hops keep their events spooled, and the ledger writer makes the stream and its
// consumer again by itself; every event of every request, before and after, lands exactly once and
// `verify` passes. Before, the ledger silently stopped recording until down/up.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { natsConnection } from '../../hops/events/nats-url';
import { SUBJECTS } from '../../hops/events/subjects';
import type { MoatEvent } from '../../schemas/generated/event';
import { queryEvents } from '../../supervisor/ledger/commands';
import { readLedgerHealth } from '../../supervisor/ledger/health';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ledger recovery: the stream deleted while traffic flows', function () {
  this.timeout(180_000);
  let admin: NatsConnection;

  const { chain } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry]\n${egressTo(provider.port)}\n`,
    beforeCleanup: () => admin?.close(),
  });

  before(async () => {
    const plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
    // The supervisor's own credential: the only one that may delete the stream.
    admin = await connect({
      ...natsConnection(plan.natsUrl, {
        natsUser: 'moat',
        natsSeed: readFileSync(join(chain.layout.natsDir, 'moat.seed'), 'utf8').trim(),
      }),
      timeout: 3000,
    });
  });

  it('status and dashboard say the ledger fails; the writer recovers alone, nothing lost or doubled', async () => {
    // Traffic all along: one request after another until told to stop.
    let sent = 0;
    let traffic = true;
    const statuses: number[] = [];
    const agent = await chain.agent();
    const flowing = (async () => {
      while (traffic) {
        const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
          method: 'POST',
          body: JSON.stringify({
            model: 'claude-x',
            max_tokens: 5,
            messages: [{ role: 'user', content: `n ${sent}` }],
          }),
          headers: { 'content-type': 'application/json' },
        });
        statuses.push(res.status);
        sent++;
        await sleep(20);
      }
    })();
    const dashboard = (await chain.status()).find((r) => r.role === 'dashboard');
    const dashboardToken = readFileSync(chain.layout.dashboardTokenFile, 'utf8').trim();
    const chainView = async (): Promise<any> =>
      (
        await fetch(`http://127.0.0.1:${dashboard.port}/_/api/chain`, {
          headers: { authorization: `Bearer ${dashboardToken}` },
        })
      ).json();
    try {
      for (let i = 0; i < 100 && sent < 10; i++) await sleep(50);
      // The writer says ok once it has stored its first batch, which ten quick requests may come before.
      let firstState = '';
      for (let i = 0; i < 50 && firstState !== 'ok'; i++) {
        const ok = await chain.cli(['status', '--json']);
        expect(ok.code, ok.stderr).to.equal(0);
        firstState = JSON.parse(ok.stdout).find((r: any) => r.role === 'ledger').health.state;
        if (firstState !== 'ok') await sleep(200);
      }
      expect(firstState, 'the ledger before the stream is deleted').to.equal('ok');

      const jsm = await admin.jetstreamManager();
      const stream = SUBJECTS.stream('default');
      // Deleted once. A second delete may hit the stream the writer has just made anew and take the events hops stored
      // in it meanwhile (acknowledged, so never sent again): it happens only when `status` missed the whole time the
      // writer said it was failing (at least RECOVER_MS), which it is asked for as soon as the health file says so.
      const healthFile = join(chain.layout.stateDir, 'ledger-health.json');
      let failed: { code: number; stdout: string } | undefined;
      let dashboardSaw: any;
      const deadline = Date.now() + 30_000;
      while (!failed && Date.now() < deadline) {
        await jsm.streams.delete(stream).catch(() => undefined);
        for (let i = 0; i < 250 && readLedgerHealth(healthFile)?.state !== 'failing'; i++) await sleep(20);
        const [text, view] = await Promise.all([chain.cli(['status']), chainView()]);
        if (view.ledger?.state === 'failing') dashboardSaw ??= view.ledger;
        if (text.code !== 0) failed = text;
      }
      expect(failed, 'status never failed').to.not.equal(undefined);
      expect(failed!.code).to.equal(1);
      expect(failed!.stdout).to.match(/ledger: FAILING since \S+: .*MOAT_default/);
      for (let i = 0; !dashboardSaw && i < 40; i++) {
        const view = await chainView();
        if (view.ledger?.state === 'failing') dashboardSaw = view.ledger;
        else await sleep(50);
      }
      // The dashboard may have seen it only in the status loop above; it reads the same file.
      if (dashboardSaw) expect(dashboardSaw.reason).to.contain('MOAT_default');

      // Left alone, the writer makes the stream and its consumer again. (The last delete above may have hit a stream
      // the writer had just made, before it wrote "ok": it then notices once more, so wait for both to agree.)
      let recovered = false;
      for (let i = 0; i < 80 && !recovered; i++) {
        const res = await chain.cli(['status', '--json']);
        const ok = res.code === 0 && JSON.parse(res.stdout).find((r: any) => r.role === 'ledger').health.state === 'ok';
        recovered =
          ok &&
          (await jsm.streams.info(stream).then(
            () => true,
            () => false,
          ));
        if (!recovered) await sleep(250);
      }
      expect(recovered, 'the ledger writer did not recover').to.equal(true);
      expect((await jsm.streams.info(stream)).config.subjects).to.deep.equal([SUBJECTS.chain('default')]);
      expect((await chainView()).ledger.state).to.equal('ok');
      const before = sent;
      for (let i = 0; i < 100 && sent < before + 10; i++) await sleep(50);
    } finally {
      traffic = false;
      await flowing;
      await agent.close();
    }
    expect(statuses.every((s) => s === 200)).to.equal(true);

    // Two boundaries (moat-telemetry's and egress's), request and response each, every one exactly once.
    let events: MoatEvent[] = [];
    for (let i = 0; i < 150; i++) {
      // Read in this process: `events --json` of hundreds of events is more than a test wants to parse from a pipe.
      events = await queryEvents(chain.layout, {});
      if (events.length >= sent * 4) break;
      await sleep(200);
    }
    expect(new Set(events.map((e) => e.id)).size).to.equal(events.length);
    expect(events.filter((e) => e.direction === 'gap')).to.deep.equal([]);
    expect(events).to.have.length(sent * 4);
    const perTrace = new Map<string, number>();
    for (const e of events) perTrace.set(e.trace, (perTrace.get(e.trace) ?? 0) + 1);
    expect(perTrace.size).to.equal(sent);
    expect([...perTrace.values()].every((n) => n === 4)).to.equal(true);
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    const log = readFileSync(join(chain.layout.logDir, 'ledger.log'), 'utf8');
    expect(log).to.match(/stream MOAT_default and consumer ledger are there again; consuming/);
  });
});
