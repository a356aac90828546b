// `moat chain up` in the foreground: streams hop logs, and Ctrl-C stops everything.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { isAlive } from '../helpers/cli-chain';
import { foregroundUpFixture } from '../helpers/foreground-up';

describe('moat chain up in the foreground', function () {
  this.timeout(60_000);
  const { chain, start } = foregroundUpFixture();

  it('prints each process as it becomes ready, streams hop logs, and stops the whole chain on SIGINT', async () => {
    const { child, output, exited } = start();
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 300 && !pattern.test(output()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(output()).to.match(pattern);
    };
    await waitFor(/Ctrl-C stops the chain/);
    // Egress and the hops start together, in any order; ingress, the agent's way in, only after all of them.
    expect(output()).to.match(/ready\s+hop 2\s+egress[\s\S]*ready\s+hop 0\s+ingress/);
    expect(output()).to.match(/ready\s+hop 1\s+moat-telemetry[\s\S]*ready\s+hop 0\s+ingress/);
    const res = await chain.cli(['run', '--', 'curl', '-sS', 'https://api.anthropic.com/v1/models']);
    expect(res.stdout).to.contain('claude-fake-1');
    await waitFor(/\[1:moat-telemetry\] [0-9T:-]+: moat-telemetry trace=[0-9a-f]{32} method=GET/);

    const daemon = chain.daemonPid()!;
    const pids = (await chain.status()).map((r) => r.pid);
    child.kill('SIGINT');
    expect(await exited).to.equal(0);
    for (const pid of [daemon, ...pids]) expect(isAlive(pid), `pid ${pid}`).to.equal(false);
    expect(execFileSync('ps', ['-eo', 'args']).toString()).to.not.contain(chain.home);
  });
});
