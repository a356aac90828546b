// pm2's daemon, left to its defaults, asks version.pm2.io every 24 hours whether it is up to date (lib/Worker.js,
// certificate checks off, the OS and Node version in the URL) and runs `df` and reads every disk's and interface's
// counters every 30 s for host metrics nobody reads. A chain's supervisor talks to nothing beyond this machine: `up`
// spawns the daemon with the version check off and its pm2 home says `pm2:sysmonit false`
// (supervisor/chain/pm2-session.ts). Waiting a day cannot be a test: the daemon's own environment is read instead,
// and its host metrics are asked for over its RPC (empty when it never collected them).
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pm2Session } from '../../supervisor/chain/pm2-session';
import { chainDaemons } from '../../hops/runtime/chain-processes';
import { tmpDir } from '../helpers/tmp';

describe('security: pm2 daemon of a chain phones no one', function () {
  this.timeout(60_000);
  const dir = tmpDir('moat-pm2quiet-');
  const pm2Home = join(dir.path, 'pm2');
  let session: Pm2Session;

  // The user's own pm2 settings in the shell `up` runs from: a PM2_HOME of theirs (pm2 would spawn the chain's daemon
  // there) and a PM2_NO_INTERACTION of theirs, which must be as it was afterwards.
  const userHome = join(dir.path, 'users-pm2');
  const saved = { PM2_HOME: process.env.PM2_HOME, PM2_NO_INTERACTION: process.env.PM2_NO_INTERACTION };

  before(async () => {
    session = new Pm2Session(pm2Home);
    // A pm2 home where the metrics were turned on (pm2 makes it "{}"): connect turns them off again.
    writeFileSync(join(pm2Home, 'module_conf.json'), JSON.stringify({ pm2: { sysmonit: 'true' } }));
    process.env.PM2_HOME = userHome;
    process.env.PM2_NO_INTERACTION = 'false';
    try {
      await session.connect();
    } finally {
      const after = { PM2_HOME: process.env.PM2_HOME, PM2_NO_INTERACTION: process.env.PM2_NO_INTERACTION };
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      restored = after;
    }
  });

  after(async () => {
    // Bounded: a daemon that never answered (connect failed) would hold killDaemon past this hook's timeout.
    await Promise.race([session.killDaemon().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
    await Promise.race([session.disconnect(), new Promise((r) => setTimeout(r, 1000))]);
    // Any daemon still there (one that never answered, or started in the wrong home) is stopped, found by its title.
    for (const home of [pm2Home, userHome]) for (const pid of chainDaemons(home)) process.kill(pid, 'SIGKILL');
    dir.remove();
  });

  let restored: Record<string, string | undefined> = {};

  const daemonPid = () => Number(readFileSync(join(pm2Home, 'pm2.pid'), 'utf8').trim());

  it("spawns the daemon in the chain's pm2 home, with the version check and PM2 Plus off", () => {
    const environ = readFileSync(`/proc/${daemonPid()}/environ`, 'utf8').split('\0');
    expect(environ).to.include('PM2_DISABLE_VERSION_CHECK=true');
    expect(environ).to.include('PM2_NO_INTERACTION=true');
    expect(environ).to.include(`PM2_HOME=${pm2Home}`);
    expect(existsSync(join(userHome, 'pm2.pid')), "a daemon in the user's PM2_HOME").to.equal(false);
    // Set for the spawn only: the environment of `up` is as it was.
    expect(restored).to.deep.equal({ PM2_HOME: userHome, PM2_NO_INTERACTION: 'false' });
  });

  it('collects no host metrics (sysmonit off in its pm2 home)', async () => {
    expect(JSON.parse(readFileSync(join(pm2Home, 'module_conf.json'), 'utf8')).pm2.sysmonit).to.equal('false');
    // The daemon collects them as it starts (one `df`, some files under /proc and /sys): well within this wait.
    await new Promise((r) => setTimeout(r, 1500));
    const api = (session as unknown as { api: { Client: any } }).api;
    const data = await new Promise<Record<string, unknown>>((resolve, reject) =>
      api.Client.executeRemote('getSystemData', {}, (err: Error | null, value: Record<string, unknown>) =>
        err ? reject(err) : resolve(value),
      ),
    );
    expect(data).to.deep.equal({});
  });
});

describe('security: the host metrics are off before pm2 spawns the daemon', () => {
  // pm2's daemon reads module_conf.json some time after it starts, so the daemon above would not tell a pm2 home
  // quieted after the spawn from one quieted before it: this pins the order instead, at the moment connect is asked.
  const dir = tmpDir('moat-pm2order-');
  after(() => dir.remove());

  it('writes sysmonit false before asking pm2 to connect (which spawns the daemon)', async () => {
    const pm2Home = join(dir.path, 'pm2');
    const session = new Pm2Session(pm2Home);
    mkdirSync(pm2Home, { recursive: true });
    writeFileSync(join(pm2Home, 'module_conf.json'), JSON.stringify({ pm2: { sysmonit: 'true' } }));
    let seenAtConnect: unknown;
    const api = (session as unknown as { api: { connect: (cb: (err: Error | null) => void) => void } }).api;
    api.connect = (cb) => {
      seenAtConnect = JSON.parse(readFileSync(join(pm2Home, 'module_conf.json'), 'utf8')).pm2.sysmonit;
      cb(null); // no daemon is spawned: the order is all this case reads
    };
    await session.connect();
    expect(seenAtConnect).to.equal('false');
  });
});
