// A NATS server list (events.nats_url, MOAT_NATS_URL, --nats; issue 23) attacked for its credentials: every server of
// the list may carry a password or token, and none of them reaches the output of plan (text and JSON, including the
// stream line that connects to the list), a config error, or `moat ledger` (serve that cannot reach the list, a list
// it refuses). A raw comma inside a password cuts it into two "servers": neither half is shown.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CliChain, type CliResult } from '../helpers/cli-chain';
import { ledgerCli } from '../helpers/ledger-serve';
import { freePorts } from '../../supervisor/chain/ports';
import { tmpDir } from '../helpers/tmp';

const secret = (tag: string) => `${tag}${randomBytes(9).toString('hex')}`;

describe('security: credentials in a NATS server list', function () {
  this.timeout(60_000);
  const work = tmpDir('moat-natslist-');
  const chain = new CliChain('listed');
  const [pwA, pwB, token] = [secret('pwA'), secret('pwB'), secret('tok')];
  // A password with raw commas: a list would cut it at them, into pieces that look like servers.
  const cutHead = secret('cutA');
  const cutTail = secret('cutB');
  let list = '';

  before(async () => {
    // Ports nothing listens on: whoever connects is refused at once, as when the cluster is down.
    const ports = await freePorts(3);
    list = `nats://alice:${pwA}@127.0.0.1:${ports[0]},nats://bob:${pwB}@127.0.0.1:${ports[1]},nats://${token}@127.0.0.1:${ports[2]}`;
  });

  after(async () => {
    await chain.cleanup();
    work.remove();
  });

  const leaks = (res: CliResult, secrets: string[]) => secrets.filter((s) => (res.stdout + res.stderr).includes(s));

  it('plan, in text and JSON, shows every server of the list without its credentials', async () => {
    chain.writeConfig(`name: listed\nproxies: [moat-telemetry]\nevents:\n  nats_url: ${list}\n  replicas: 3\n`);
    for (const args of [['plan'], ['plan', '--json']]) {
      const res = await chain.cli(args);
      expect(res.code, res.stderr).to.equal(0);
      expect(leaks(res, [pwA, pwB, token]), args.join(' ')).to.deep.equal([]);
      expect(res.stdout).to.contain('nats://***@127.0.0.1:');
    }
    // The stream line tried the list and says so, redacted.
    expect((await chain.cli(['plan'])).stdout).to.match(
      /now: stream MOAT_listed: cannot reach NATS at nats:\/\/\*\*\*@/,
    );
  });

  it('a password cut by a raw comma is refused, and neither half of it is shown', async () => {
    chain.writeConfig(
      `name: listed\nproxies: [moat-telemetry]\nevents:\n  nats_url: nats://u:${cutHead},${cutTail}@127.0.0.1:4222\n`,
    );
    const res = await chain.cli(['plan']);
    expect(res.code).to.not.equal(0);
    expect(res.stderr).to.contain('MOAT_ERR_CONFIG_INVALID');
    expect(leaks(res, [cutHead, cutTail])).to.deep.equal([]);
  });

  it('moat ledger serve and verify with the list in MOAT_NATS_URL show no credentials', async () => {
    const serve = await ledgerCli(['serve', '--dir', join(work.path, 'd')], { MOAT_NATS_URL: list });
    expect(serve.code).to.not.equal(0);
    expect(serve.stderr).to.contain('MOAT_ERR_NATS');
    expect(leaks(serve, [pwA, pwB, token])).to.deep.equal([]);
    const cut = await ledgerCli(['serve', '--dir', join(work.path, 'd')], {
      MOAT_NATS_URL: `nats://u:${cutHead},${cutTail}@127.0.0.1:4222,nats://b:4222`,
    });
    expect(cut.stderr).to.contain('MOAT_ERR_USAGE');
    expect(leaks(cut, [cutHead, cutTail])).to.deep.equal([]);
  });
});
