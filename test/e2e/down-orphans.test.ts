// A pm2 daemon killed with -9 leaves the chain's processes running. `up` must not start a second set over
// them, and `down` must still stop them all: it finds them by the PM2_HOME in their environment.
import { expect } from 'chai';
import { CliChain, isAlive } from '../helpers/cli-chain';
import { chainProcesses } from '../../supervisor/chain-processes';
import { FakeProvider } from '../fixtures/fake-provider';
import { egressTo } from '../helpers/cli-chain';
import { proxyAgent, timedRequest } from '../helpers/proxy-client';
import { readFileSync } from 'node:fs';

describe('moat chain down after the pm2 daemon died', function () {
  this.timeout(90_000);
  const chain = new CliChain();
  let provider: FakeProvider;

  before(async () => {
    provider = await new FakeProvider().start();
    chain.writeConfig(`proxies: [moat-telemetry, moat-policy]\n${egressTo(provider.port)}\n`);
    const res = await chain.up();
    expect(res.code, res.stderr).to.equal(0);
  });

  after(async () => {
    await chain.cleanup();
    await provider.stop();
  });

  it('the orphans keep serving, `up` refuses to start over them, and `down` stops every one', async () => {
    const before = chainProcesses(chain.layout.pm2Home);
    // nats-server, ledger writer, dashboard, ingress, two hops, egress (the daemon is no app of its own).
    expect(before.length).to.equal(7);
    const daemon = chain.daemonPid()!;
    process.kill(daemon, 'SIGKILL');
    for (let i = 0; i < 100 && isAlive(daemon); i++) await new Promise((r) => setTimeout(r, 20));
    const orphans = chainProcesses(chain.layout.pm2Home);
    expect(orphans.sort()).to.deep.equal(before.sort());

    // No daemon, so no `status`: the ingress port from the plan `up` wrote.
    const plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
    const agent = proxyAgent(plan.ingressPort, readFileSync(chain.layout.tokenFile, 'utf8').trim(), chain.layout.caCertFile);
    expect((await timedRequest(agent, 'https://api.anthropic.com/v1/models')).status).to.equal(200);
    await agent.close();

    const again = await chain.cli(['up', '-d']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('still has processes running without their pm2 daemon').and.contain('MOAT_ERR_ALREADY_UP');
    expect(chainProcesses(chain.layout.pm2Home).sort()).to.deep.equal([...orphans].sort());

    const down = await chain.cli(['down', '--json']);
    expect(down.code, down.stderr).to.equal(0);
    expect(JSON.parse(down.stdout)).to.deep.include({ stopped: true });
    expect(chainProcesses(chain.layout.pm2Home)).to.deep.equal([]);
    expect(orphans.filter(isAlive)).to.deep.equal([]);
  });
});
