// A pm2 daemon that never answers (stopped with SIGSTOP, as a hung or swapped-out daemon would be) does not hold a
// moat command for ever: each pm2 call is bounded (supervisor/chain/pm2-session.ts) and fails with MOAT_ERR_PM2 naming
// the call and the daemon's log. The session runs in a process of its own (pm2 is loaded once per process, with its
// home); the daemon it spawned is killed whatever happens.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/repo-root';
import { tmpDir } from '../helpers/tmp';

const SESSION = join(REPO_ROOT, 'dist', 'supervisor', 'chain', 'pm2-session.js');

// Connects (spawning the daemon), stops the daemon, asks it for its list with a 1.5 s bound, and prints what happened.
const SCRIPT = `
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Pm2Session } = require(process.argv[1]);
const home = process.argv[2];
(async () => {
  const session = new Pm2Session(home, 1500);
  await session.connect();
  const pid = Number(readFileSync(join(home, 'pm2.pid'), 'utf8'));
  process.kill(pid, 'SIGSTOP');
  const started = Date.now();
  let outcome;
  try {
    await session.list();
    outcome = { answered: true };
  } catch (err) {
    outcome = { code: err.code, message: err.message, ms: Date.now() - started };
  }
  process.kill(pid, 'SIGKILL');
  console.log(JSON.stringify(outcome));
  process.exit(0);
})();
`;

describe('pm2: a daemon that does not answer', function () {
  this.timeout(60_000);
  const dir = tmpDir('moat-pm2-deadline-');
  const pm2Home = join(dir.path, 'pm2');

  after(() => {
    // The daemon, should the script have died before killing it.
    const pidFile = join(pm2Home, 'pm2.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    dir.remove();
  });

  it('fails the call after its bound with MOAT_ERR_PM2, naming the call and the log, instead of waiting for ever', () => {
    const out = execFileSync(process.execPath, ['-e', SCRIPT, SESSION, pm2Home], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir.path, PM2_HOME: pm2Home },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const outcome = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(outcome.answered).to.equal(undefined);
    expect(outcome.code).to.equal('MOAT_ERR_PM2');
    expect(outcome.message)
      .to.contain('pm2 list: its daemon did not answer within 1.5 s')
      .and.contain(join(pm2Home, 'pm2.log'));
    expect(outcome.ms).to.be.within(1400, 10_000);
  });
});
