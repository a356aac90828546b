// pm2 makes the directories of $PM2_HOME (by default ~/.pm2, mode 0755) the moment it is loaded, whatever home its API
// is given afterwards. moat loads it only when it talks to a chain's own daemon, with that chain's 0700 home
// (supervisor/chain/pm2-session.ts): no `moat chain` command leaves a ~/.pm2 in the user's home, where the agent (same
// user) could plant files a later pm2 would read, and the chain's pm2 home is private from its first moment.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/repo-root';
import { tmpDir } from '../helpers/tmp';

describe('security: moat leaves no ~/.pm2 in the home of the user', function () {
  this.timeout(60_000);
  const dir = tmpDir('moat-homepm2-');
  const home = join(dir.path, 'home');
  const moatHome = join(dir.path, 'moat');

  before(() => {
    execFileSync('mkdir', ['-p', home]);
    writeFileSync(join(dir.path, 'moat.yaml'), 'name: pm2home\nproxies: [moat-telemetry]\n');
  });

  after(() => dir.remove());

  const env = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, MOAT_HOME: moatHome });

  it('`moat chain status` and `plan` of a chain that is not up make no ~/.pm2', () => {
    for (const args of [['status'], ['plan']]) {
      try {
        execFileSync(
          process.execPath,
          [join(REPO_ROOT, 'bin', 'moat'), 'chain', ...args, '-f', join(dir.path, 'moat.yaml')],
          { env: env(), stdio: 'pipe', timeout: 30_000 },
        );
      } catch {
        // status of a chain that is down may exit non-zero: what it leaves behind is the point here
      }
      expect(existsSync(join(home, '.pm2')), `after moat chain ${args[0]}`).to.equal(false);
    }
  });

  it("a session's pm2 home is made 0700 before pm2 loads, and pm2 makes nothing in ~", () => {
    const pm2Home = join(dir.path, 'chain-state', 'pm2');
    const session = join(REPO_ROOT, 'dist', 'supervisor', 'chain', 'pm2-session.js');
    // A process of its own: pm2 is loaded once per process.
    execFileSync(
      process.execPath,
      ['-e', `new (require(${JSON.stringify(session)}).Pm2Session)(process.argv[1])`, pm2Home],
      {
        env: env(),
        stdio: 'pipe',
        timeout: 30_000,
      },
    );
    expect(existsSync(join(home, '.pm2'))).to.equal(false);
    expect(statSync(pm2Home).mode & 0o777).to.equal(0o700);
  });
});
