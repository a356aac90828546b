import { join } from 'node:path';
// A pm2 daemon killed with -9 leaves the chain's processes without supervisor. Moat's own exit within a second
// (hops/runtime/parent-watch.ts); what pm2 started directly (nats-server here) goes on running. `up` must not start a
// second set over it, and `down` must still stop it: it finds it by the PM2_HOME in its environment.
import { expect } from 'chai';
import { isAlive, egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { chainProcesses } from '../../hops/runtime/chain-processes';
import { proxyAgent, timedRequest } from '../helpers/proxy-client';
import { readFileSync } from 'node:fs';

describe('moat chain down after the pm2 daemon died', function () {
  this.timeout(90_000);
  const { chain, upResult } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry, moat-policy]\n${egressTo(provider.port)}\n`,
  });

  before(() => {
    const res = upResult();
    expect(res.code, res.stderr).to.equal(0);
  });

  it(
    "Moat's processes exit, the chain stops serving, `up` " + 'refuses to start over what is left, and `down` stops it',
    async () => {
      const before = chainProcesses(chain.layout.pm2Home);
      // nats-server, ledger writer, dashboard, moat-telemetry's metrics, ingress, two hops, egress (the daemon is no
      // app of its own).
      expect(before.length).to.equal(8);
      const plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
      const natsPort = plan.services.find((p: any) => p.role === 'nats').port;
      const daemon = chain.daemonPid()!;
      process.kill(daemon, 'SIGKILL');
      for (let i = 0; i < 100 && isAlive(daemon); i++) await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < 150 && chainProcesses(chain.layout.pm2Home).length > 1; i++)
        await new Promise((r) => setTimeout(r, 20));
      const orphans = chainProcesses(chain.layout.pm2Home);
      expect(orphans).to.have.length(1);
      // nats-server, started with its config file (which names the port: nothing secret goes on its command line).
      expect(readFileSync(`/proc/${orphans[0]}/cmdline`, 'utf8'))
        .to.contain('nats-server')
        .and.contain('nats.conf');
      expect(readFileSync(join(chain.layout.natsDir, 'nats.conf'), 'utf8')).to.contain(String(natsPort));

      // No daemon, so no `status`: the ingress port from the plan `up` wrote. Nothing answers there any more.
      const agent = proxyAgent(
        plan.ingressPort,
        readFileSync(chain.layout.tokenFile, 'utf8').trim(),
        chain.layout.caCertFile,
      );
      const failed = await timedRequest(agent, 'https://api.anthropic.com/v1/models').then(
        (res) => `status ${res.status}`,
        (err) => err.cause?.code ?? err.code,
      );
      // Refused, or reset: an exiting ingress can still hold its listener for a moment after its /proc entry stops
      // naming the chain (its memory, and with it its environment, goes before its descriptors).
      expect(failed).to.be.oneOf(['ECONNREFUSED', 'ECONNRESET']);
      await agent.close();

      const again = await chain.cli(['up', '-d']);
      expect(again.code).to.equal(1);
      expect(again.stderr)
        .to.contain('still has processes running without their pm2 daemon')
        .and.contain('MOAT_ERR_ALREADY_UP');
      expect(chainProcesses(chain.layout.pm2Home).sort()).to.deep.equal([...orphans].sort());

      const down = await chain.cli(['down', '--json']);
      expect(down.code, down.stderr).to.equal(0);
      expect(JSON.parse(down.stdout)).to.deep.include({ stopped: true });
      expect(chainProcesses(chain.layout.pm2Home)).to.deep.equal([]);
      expect(orphans.filter(isAlive)).to.deep.equal([]);
    },
  );
});
