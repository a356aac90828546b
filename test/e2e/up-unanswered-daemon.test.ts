// `moat chain up` whose pm2 daemon never answers the first connect (seen once in CI: `up` said nothing for a minute)
// reports MOAT_ERR_PM2 promptly and leaves nothing running: the daemon that did not answer is killed by its pid, not
// asked to stop (which waits up to two minutes on a daemon that does not answer). The daemon is made unanswering by
// stopping it (SIGSTOP) as soon as pm2 has spawned it; `up` runs in a process of its own (pm2 is loaded once per
// process, with its home), and whatever it left is killed by the test.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/repo-root';
import { tmpDir } from '../helpers/tmp';
import { chainProcesses, isAlive } from '../../hops/runtime/chain-processes';

const DIST = join(REPO_ROOT, 'dist', 'supervisor');

// Connects as `up` does, then stops the daemon and fails as a connect past its bound would; prints the outcome.
const SCRIPT = `
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const [dist, config] = process.argv.slice(1);
const { Pm2Session } = require(join(dist, 'chain', 'pm2-session.js'));
const { MoatError } = require(join(dist, 'errors.js'));
const lifecycle = require(join(dist, 'chain', 'lifecycle.js'));
const connect = Pm2Session.prototype.connect;
Pm2Session.prototype.connect = async function (secrets) {
  await connect.call(this, secrets);
  const pid = Number(readFileSync(join(this.pm2Home, 'pm2.pid'), 'utf8'));
  process.kill(pid, 'SIGSTOP');
  this.connected = false;
  console.log(JSON.stringify({ daemon: pid }));
  throw new MoatError('MOAT_ERR_PM2', 'pm2 connect: its daemon did not answer (the test stopped it)');
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

describe('up: a pm2 daemon that never answers', function () {
  this.timeout(60_000);
  const dir = tmpDir('moat-up-unanswered-');
  const home = join(dir.path, 'home');
  const pm2Home = join(home, 'chains', 'stuck', 'pm2');
  let daemon: number | undefined;

  after(() => {
    // The daemon, also when the run failed before saying its pid (its pid file may still be there).
    const pidFile = join(pm2Home, 'pm2.pid');
    if (existsSync(pidFile)) daemon ??= Number(readFileSync(pidFile, 'utf8'));
    for (const pid of [daemon, ...chainProcesses(pm2Home)]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    dir.remove();
  });

  it('fails with MOAT_ERR_PM2 within seconds, the daemon killed by its pid and nothing of the chain left', () => {
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
    expect(outcome.ms).to.be.below(15_000);
    expect(isAlive(daemon!), 'the daemon is gone').to.equal(false);
    expect(chainProcesses(pm2Home)).to.deep.equal([]);
    // Left behind, the pid file would make `status` report a daemon that died.
    expect(existsSync(join(pm2Home, 'pm2.pid')), 'pm2.pid removed').to.equal(false);
  });
});
