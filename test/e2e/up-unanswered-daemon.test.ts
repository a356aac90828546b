// `moat chain up` whose pm2 daemon stops answering (seen once in CI: `up` said nothing for a minute) reports
// MOAT_ERR_PM2 once the call's bound has passed and leaves nothing running: the daemon is killed, found by its title,
// not asked to stop (which waits up to two minutes on a daemon that does not answer). The daemon is stopped (SIGSTOP)
// right after `up` connected, and the session's bound made 1.5 s, so `up`'s first start call times out as a hung
// daemon's would. `up` runs in a process of its own (pm2 is loaded once per process, with its home); whatever it left
// is killed by the test.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/repo-root';
import { tmpDir } from '../helpers/tmp';
import { chainDaemons, chainProcesses, isAlive } from '../../hops/runtime/chain-processes';
import { stateLayout } from '../../supervisor/chain/state';

const DIST = join(REPO_ROOT, 'dist', 'supervisor');

const SCRIPT = `
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const [dist, config] = process.argv.slice(1);
const { Pm2Session } = require(join(dist, 'chain', 'pm2-session.js'));
const lifecycle = require(join(dist, 'chain', 'lifecycle.js'));
const connect = Pm2Session.prototype.connect;
Pm2Session.prototype.connect = async function (secrets) {
  await connect.call(this, secrets);
  this.callTimeoutMs = 1500;
  const pid = Number(readFileSync(join(this.pm2Home, 'pm2.pid'), 'utf8'));
  process.kill(pid, 'SIGSTOP');
  console.log(JSON.stringify({ daemon: pid }));
};
(async () => {
  const started = Date.now();
  try {
    await lifecycle.up(lifecycle.chainContext(config));
    console.log(JSON.stringify({ up: true }));
  } catch (err) {
    console.log(JSON.stringify({ code: err.code, message: err.message, ms: Date.now() - started }));
  }
  process.exit(0);
})();
`;

describe('up: a pm2 daemon that stops answering', function () {
  this.timeout(60_000);
  const dir = tmpDir('moat-up-unanswered-');
  const home = join(dir.path, 'home');
  const pm2Home = stateLayout('stuck', home).pm2Home;
  let daemon: number | undefined;

  after(() => {
    // The daemon, also when the run failed before saying its pid.
    const pidFile = join(pm2Home, 'pm2.pid');
    if (existsSync(pidFile)) daemon ??= Number(readFileSync(pidFile, 'utf8'));
    for (const pid of [daemon, ...chainDaemons(pm2Home), ...chainProcesses(pm2Home)]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    dir.remove();
  });

  it('fails with MOAT_ERR_PM2 after the call bound, the daemon killed and its pid file gone', () => {
    const config = join(dir.path, 'moat.yaml');
    writeFileSync(config, 'name: stuck\nproxies: []\n');
    const out = execFileSync(process.execPath, ['-e', SCRIPT, DIST, config], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir.path, MOAT_HOME: home },
      encoding: 'utf8',
      // Asking the stopped daemon to stop would take two minutes (pm2-session.ts KILL_TIMEOUT_MS).
      timeout: 30_000,
    });
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    daemon = lines[0].daemon;
    const outcome = lines.at(-1);
    expect(daemon, out).to.be.a('number');
    expect(outcome.up).to.equal(undefined);
    expect(outcome.code).to.equal('MOAT_ERR_PM2');
    expect(outcome.message).to.contain('did not answer within 1.5 s');
    expect(outcome.ms).to.be.below(15_000);
    expect(isAlive(daemon!), 'the daemon is gone').to.equal(false);
    expect(chainDaemons(pm2Home)).to.deep.equal([]);
    // Left behind, the pid file would make `status` report a daemon that died.
    expect(existsSync(join(pm2Home, 'pm2.pid')), 'pm2.pid removed').to.equal(false);
  });
});
