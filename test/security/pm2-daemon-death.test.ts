// No unsupervised chain: when pm2's daemon dies (kill -9), nothing restarts a crashed hop, so the chain must stop
// serving. Every Moat process exits once its parent (the daemon: pm2 fork mode) is gone; within a few seconds no
// request through any of the chain's ports (ingress, egress's own) reaches the provider, egress's real key
// included. `status` says the daemon died and what still runs; `down` leaves nothing.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { egressTo, isAlive, processesMentioning } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { foregroundUpFixture } from '../helpers/foreground-up';
import { proxyAgent, timedRequest } from '../helpers/proxy-client';
import { chainProcesses } from '../../hops/runtime/chain-processes';
import { parentPidOfStat } from '../../hops/runtime/parent-watch';

const REAL_ANTHROPIC = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;
const KEYS_ENV = { ANTHROPIC_API_KEY: REAL_ANTHROPIC };

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('security: a chain whose pm2 daemon died stops serving', function () {
  this.timeout(120_000);
  let plan: any;
  let token: string;

  /** One request through the given port with the chain token; 'refused' etc. when it cannot be sent. */
  async function through(port: number, credential = token): Promise<number | string> {
    const agent = proxyAgent(port, credential, chain.layout.caCertFile);
    try {
      const res = await timedRequest(agent, 'https://api.anthropic.com/v1/models', {
        headers: { 'x-api-key': plan.placeholders.ANTHROPIC_API_KEY },
      });
      return res.status;
    } catch (err) {
      return (err as any).cause?.code ?? (err as any).code ?? String(err);
    } finally {
      await agent.close().catch(() => undefined);
    }
  }

  const { chain, provider } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry, moat-policy]\ngrants: [anthropic]\n${egressTo(provider.port)}\n`,
    up: { env: KEYS_ENV },
  });

  before(() => {
    plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
    token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
  });

  it(
    'kill -9 of the daemon, then of a hop: no port of the chain reaches the provider; status says so; down ' +
      'leaves nothing',
    async () => {
      const rows = await chain.status();
      const pidOf = (name: string) => rows.find((r) => r.name === name).pid as number;
      const ingressPort = plan.ingressPort as number;
      const egressPort = rows.find((r) => r.role === 'egress').port as number;
      // Before: both ports lead to the provider, and egress puts the real key in.
      expect(await through(ingressPort)).to.equal(200);
      // Egress takes only its own credential (the one moat-policy holds), which a process of the user can read.
      const egressCredential = readFileSync(
        plan.processes.find((p: any) => p.role === 'egress').spec.tokenFile,
        'utf8',
      ).trim();
      expect(await through(egressPort)).to.equal('UND_ERR_ABORTED'); // 407 to the agent's token
      expect(await through(egressPort, egressCredential)).to.equal(200);
      expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(REAL_ANTHROPIC);

      const daemon = chain.daemonPid()!;
      const moatPids = ['ingress', 'moat-telemetry', 'moat-policy', 'egress', 'ledger-writer', 'dashboard'].map(pidOf);
      // pm2 fork mode: the daemon is the parent of every app, which is what the apps watch.
      for (const pid of moatPids)
        expect(parentPidOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8')), `parent of ${pid}`).to.equal(daemon);

      process.kill(daemon, 'SIGKILL');
      process.kill(pidOf('moat-policy'), 'SIGKILL');
      const killedAt = Date.now();
      expect(await until(() => moatPids.every((p) => !isAlive(p)), 5000), 'every Moat process exited').to.equal(true);
      const exitedMs = Date.now() - killedAt;
      expect(exitedMs).to.be.below(3000);

      const seen = provider.seen.length;
      // Every port of the chain's proxies and services; nats-server's (it still runs, see below) speaks no HTTP.
      for (const port of [
        ingressPort,
        egressPort,
        ...rows.filter((r) => r.port && r.role !== 'nats').map((r) => r.port as number),
      ]) {
        expect(await through(port), `port ${port}`).to.be.oneOf(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']);
        expect(await through(port, egressCredential), `port ${port}, egress's credential`).to.be.oneOf([
          'ECONNREFUSED',
          'ECONNRESET',
          'UND_ERR_SOCKET',
        ]);
      }
      expect(provider.seen.length, 'requests that reached the provider after the daemon died').to.equal(seen);

      // nats-server (pm2 started it directly; it holds no key) is what is left: status names it.
      const leftovers = chainProcesses(chain.layout.pm2Home);
      const status = await chain.cli(['status']);
      expect(status.code).to.equal(1);
      expect(status.stderr)
        .to.contain(`chain stopped: its pm2 daemon died (pid ${daemon})`)
        .and.contain('MOAT_ERR_DAEMON_DIED')
        .and.contain('run `moat chain down`, then `moat chain up`');
      for (const pid of leftovers) expect(status.stderr).to.contain(`(pid ${pid})`);
      expect(status.stderr).to.contain('nats-server');
      // Commands that need the chain say the same.
      expect((await chain.cli(['env'])).stderr).to.contain('MOAT_ERR_DAEMON_DIED');

      const down = await chain.cli(['down', '--json']);
      expect(down.code, down.stderr).to.equal(0);
      expect(JSON.parse(down.stdout)).to.deep.include({ stopped: true });
      expect(chainProcesses(chain.layout.pm2Home)).to.deep.equal([]);
      expect(processesMentioning(chain.home)).to.deep.equal([]);
      const after = await chain.cli(['status']);
      expect(after.code).to.equal(1);
      expect(after.stderr).to.contain('MOAT_ERR_NOT_UP');
    },
  );
});

describe('security: `moat chain up` in the foreground when its pm2 daemon dies', function () {
  this.timeout(60_000);
  const { chain, start } = foregroundUpFixture();

  it('says the chain stopped and exits 1, instead of streaming nothing for ever', async () => {
    const { output, exited } = start();
    expect(await until(() => output().includes('Ctrl-C stops the chain'), 30_000), output()).to.equal(true);
    const daemon = chain.daemonPid()!;
    process.kill(daemon, 'SIGKILL');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    expect(code, output()).to.equal(1);
    expect(output())
      .to.contain(`chain stopped: its pm2 daemon died (pid ${daemon})`)
      .and.contain('MOAT_ERR_DAEMON_DIED');
  });
});
