// Events survive faults: the ledger writer killed mid-burst, nats-server restarted under traffic.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { Ledger } from '../../supervisor/ledger/ledger';
import { connect } from 'nats';
import { join } from 'node:path';
import { natsConnection } from '../../hops/events/nats-url';

// [moat-telemetry, moat-policy]: boundaries 0, 1, 2, each a request and a response event.
const EVENTS_PER_REQUEST = 6;

describe('events under faults', function () {
  this.timeout(180_000);
  const { chain } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry, moat-policy]\n${egressTo(provider.port)}\n`,
  });

  /** `total` requests, 8 at a time; `during` runs once `at` of them have completed. */
  async function burst(total: number, at: number, during: () => void): Promise<number[]> {
    const a = await chain.agent();
    const statuses: number[] = [];
    let next = 0;
    let fired = false;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          next++;
          statuses.push((await timedRequest(a, 'https://api.anthropic.com/v1/models')).status);
          if (!fired && statuses.length >= at) {
            fired = true;
            during();
          }
        }
      }),
    );
    await a.close();
    return statuses;
  }

  /** The ledger's row count once it reaches `expected` (or after 30 s); with 0, the count now. */
  async function ledgerCount(expected: number): Promise<number> {
    for (let i = 0; ; i++) {
      const l = await Ledger.open(chain.layout.ledgerFile, true);
      const count = await l.count();
      await l.close();
      if (count >= expected || i >= 300) return count;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('kill -9 of the ledger writer mid-burst: restarted by pm2, it holds every event exactly once', async () => {
    const before = await ledgerCount(0);
    const writer = (await chain.status()).find((r) => r.name === 'ledger-writer');
    const statuses = await burst(200, 60, () => process.kill(writer.pid, 'SIGKILL'));
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    const expected = before + 200 * EVENTS_PER_REQUEST;
    expect(await ledgerCount(expected)).to.equal(expected);
    await new Promise((r) => setTimeout(r, 500));
    expect(await ledgerCount(expected)).to.equal(expected);
    const restarted = (await chain.status()).find((r) => r.name === 'ledger-writer');
    expect(restarted.restarts).to.be.at.least(1);
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stderr).to.equal(0);
  });

  it('nats-server restarted under traffic: requests keep succeeding and the events arrive afterwards', async () => {
    const before = await ledgerCount(0);
    const nats = (await chain.status()).find((r) => r.name === 'nats-server');
    // One Go scheduler thread (supervisor/chain/lifecycle.ts), and so after pm2's restart too (checked below).
    const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    expect(environ(nats.pid)).to.include('GOMAXPROCS=1');
    const statuses = await burst(200, 40, () => process.kill(nats.pid, 'SIGKILL'));
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    const expected = before + 200 * EVENTS_PER_REQUEST;
    expect(await ledgerCount(expected)).to.equal(expected);
    expect((await chain.cli(['verify'])).code).to.equal(0);
    const again = (await chain.status()).find((r) => r.name === 'nats-server');
    expect(again.pid).to.not.equal(nats.pid);
    expect(environ(again.pid)).to.include('GOMAXPROCS=1');
  });

  it('a message on the stream that is not an event is skipped and holds up nothing', async () => {
    const plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
    // Anyone holding a recording process's credential (here hop 1's, from its spec file) can publish junk on its
    // subject.
    const hop1 = JSON.parse(readFileSync(join(chain.layout.runDir, '1-moat-telemetry.json'), 'utf8')).events;
    const nc = await connect(natsConnection(plan.natsUrl, hop1));
    const js = nc.jetstream();
    // Events in every other way, on the right subject, whose host is no string: the ledger's binding refuses such a
    // column, so one of them must not fail the batch around it (it would come back for ever, holding up the rest).
    const badHost = (host: unknown, n: number) =>
      JSON.stringify({
        id: `junk-host-${n}`,
        chain: 'default',
        trace: 'junk',
        hop: 1,
        boundary: 0,
        direction: 'request',
        time: new Date().toISOString(),
        host,
      });
    for (const junk of ['null', '{}', '[1,2]', '{"id":"x"}', 'not json', badHost(true, 1), badHost({ a: 1 }, 2)])
      await js.publish('moat.default.hop.1.request', new TextEncoder().encode(junk));
    await nc.close();
    const before = await ledgerCount(0);
    const statuses = await burst(10, 100, () => undefined);
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    const expected = before + 10 * EVENTS_PER_REQUEST;
    expect(await ledgerCount(expected)).to.equal(expected);
    expect((await chain.cli(['verify'])).code).to.equal(0);
  });
});
