// The mounts that hide moat's state inside a namespace (hide-state.ts), and what an isolated hop's namespace hides and
// keeps (covered-paths.ts). Pure but for the last: the steps and the paths, no mount is made.
import { expect } from 'chai';
import { existsSync, mkdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hideSteps, parseMountinfo } from '../../../../supervisor/transparent/hide-state';
import { isolatedHopHiding, runningPm2Homes } from '../../../../supervisor/transparent/covered-paths';
import { isInside } from '../../../../supervisor/chain/private-files';
import { spawn } from 'node:child_process';
import { tmpDir } from '../../../helpers/tmp';

const PROC = { kind: 'mount', argv: ['-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc', '/proc'] };
const roCover = (path: string) => ({
  kind: 'mount',
  argv: ['-t', 'tmpfs', '-o', 'ro,nosuid,nodev,noexec,mode=0555,size=4k', 'moat-hidden', path],
});

// As a machine shows it: the root, a /home of its own, /proc, /dev with its terminals, a read-only mount, a /tmp
// mount, and a path with a space.
const MOUNTINFO = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '28 27 254:1 / /home rw,nosuid,nodev,noatime - ext4 /dev/vdb rw',
  '22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
  '24 27 0:6 / /dev rw,nosuid,relatime - devtmpfs devtmpfs rw',
  '26 24 0:24 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw',
  '29 27 0:25 / /opt/tools ro,nosuid,nodev,relatime - tmpfs tools ro',
  '30 27 0:26 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw',
  '31 27 0:27 / /media/my\\040disk rw,relatime - vfat /dev/sdb1 rw',
  '32 28 0:27 / /media/my\\040disk rw,relatime - vfat /dev/sdb1 rw',
].join('\n');

describe("hiding moat's state in a namespace: the steps", () => {
  it('mounts a /proc of its own first, then an empty read-only tmpfs over each covered path', () => {
    expect(hideSteps({ cover: ['/h', '/tmp/moat-pm2-ab'] })).to.deep.equal([
      PROC,
      roCover('/h'),
      roCover('/tmp/moat-pm2-ab'),
    ]);
  });

  it('binds kept paths back into their cover while it is writable, read-only with the flags of their mount', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    const keep = [{ path: '/home/u/.moat/chains/c/hops/2-tinyproxy' }, { path: '/home/u/.moat/ca.crt' }];
    expect(hideSteps({ cover: ['/home/u/.moat', '/x/moat-pm2-ab'], keep }, mounts)).to.deep.equal([
      PROC,
      {
        kind: 'mount',
        argv: ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,mode=0555,size=4k', 'moat-hidden', '/home/u/.moat'],
      },
      { kind: 'mountpoint', keep: 0, path: keep[0].path },
      { kind: 'bind', keep: 0, path: keep[0].path },
      { kind: 'mount', argv: ['-o', 'remount,bind,ro,nosuid,nodev,noatime', keep[0].path] },
      { kind: 'mountpoint', keep: 1, path: keep[1].path },
      { kind: 'bind', keep: 1, path: keep[1].path },
      { kind: 'mount', argv: ['-o', 'remount,bind,ro,nosuid,nodev,noatime', keep[1].path] },
      { kind: 'mount', argv: ['-o', 'remount,bind,ro,nosuid,nodev,noexec', '/home/u/.moat'] },
      // Nothing kept inside: read-only at once.
      roCover('/x/moat-pm2-ab'),
    ]);
  });

  it('for a hop: every writable mount read-only first, a fresh /tmp, its own directory writable again', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    const hopDir = '/tmp/e2e/h/chains/c/hops/1-x';
    const steps = hideSteps(
      {
        cover: ['/tmp/e2e/h', '/home/u/.moat'],
        fresh: ['/tmp'],
        readOnly: true,
        keep: [{ path: hopDir, writable: true }, { path: '/tmp/e2e/h/ca.crt' }, { path: '/opt/moat' }],
      },
      mounts,
    );
    expect(steps).to.deep.equal([
      // The root, /home, /dev and the disk (once, the last mount there counts), with the flags each has; not /proc
      // (replaced next), /dev/pts, the read-only one, nor /tmp (a tmpfs goes over it).
      { kind: 'read-only', argv: ['-o', 'remount,bind,ro,relatime', '/'], path: '/' },
      { kind: 'read-only', argv: ['-o', 'remount,bind,ro,nosuid,nodev,noatime', '/home'], path: '/home' },
      { kind: 'read-only', argv: ['-o', 'remount,bind,ro,nosuid,relatime', '/dev'], path: '/dev' },
      { kind: 'read-only', argv: ['-o', 'remount,bind,ro,relatime', '/media/my disk'], path: '/media/my disk' },
      PROC,
      roCover('/home/u/.moat'),
      // MOAT_HOME in /tmp: the fresh /tmp hides it, so it needs no cover of its own.
      { kind: 'mount', argv: ['-t', 'tmpfs', '-o', 'nosuid,nodev,mode=1777', 'moat-hidden', '/tmp'] },
      { kind: 'mountpoint', keep: 0, path: hopDir },
      { kind: 'bind', keep: 0, path: hopDir },
      { kind: 'mount', argv: ['-o', 'remount,bind,rw,nosuid,nodev', hopDir] },
      { kind: 'mountpoint', keep: 1, path: '/tmp/e2e/h/ca.crt' },
      { kind: 'bind', keep: 1, path: '/tmp/e2e/h/ca.crt' },
      { kind: 'mount', argv: ['-o', 'remount,bind,ro,nosuid,nodev', '/tmp/e2e/h/ca.crt'] },
      // Kept but under no tmpfs, read-only like the rest: nothing to do.
    ]);
  });

  it('a path that only begins like a covered one is not inside it', () => {
    expect(isInside('/h/ca.crt', '/h')).to.equal(true);
    expect(isInside('/h', '/h')).to.equal(true);
    expect(isInside('/home/x', '/h')).to.equal(false);
    expect(isInside('/h2/ca.crt', '/h')).to.equal(false);
    expect(hideSteps({ cover: ['/h'], keep: [{ path: '/h2/ca.crt' }] }).map((s) => s.kind)).to.deep.equal([
      'mount',
      'mount',
    ]);
  });

  it('the mount on top at a path decides: one hidden below a read-only mount is left alone', () => {
    const mounts = parseMountinfo(
      [
        '1 0 8:1 / / ro,relatime - ext4 /dev/a ro',
        '2 1 0:2 / /srv rw - tmpfs t rw',
        '3 1 0:3 / /srv ro - tmpfs u ro',
      ].join('\n'),
    );
    expect(hideSteps({ cover: [], readOnly: true }, mounts)).to.deep.equal([PROC]);
  });

  it("an isolated hop's view: moat's homes and the user's covered (the default made, running chains' too), tmp fresh", () => {
    const dir = tmpDir('moat-keep-');
    try {
      const home = join(dir.path, 'home');
      const hop = join(home, 'chains', 'c', 'hops', '1-x');
      mkdirSync(hop, { recursive: true });
      writeFileSync(join(home, 'ca.crt'), '');
      writeFileSync(join(hop, 'bin'), '');
      const tmp = join(dir.path, 'tmp');
      mkdirSync(tmp);
      const user = join(dir.path, 'user');
      const defaultHome = join(user, '.moat');
      const otherHome = join(dir.path, 'other');
      mkdirSync(join(otherHome, 'chains', 'b', 'pm2'), { recursive: true });
      const view = isolatedHopHiding(
        {
          moatHomes: [home, defaultHome],
          pm2Home: join(home, 'chains', 'c', 'pm2'),
          // / and a directory holding the user's home are never made fresh.
          tmpDirs: [tmp, '/', dir.path],
          userHome: user,
          hopDir: hop,
          caFiles: [join(home, 'ca.crt'), join(home, 'ca-bundle.pem')],
          // moat's tree here holds the hop's directory: keeping it would bring the state back. A binary in the
          // hop's directory is there anyway.
          programs: [dir.path, join(hop, 'bin'), '/usr/bin/env'],
        },
        '/usr/bin/mount',
        4242,
        [join(otherHome, 'chains', 'b', 'pm2'), join(dir.path, 'gone', 'pm2')],
      );
      expect(statSync(defaultHome).mode & 0o777).to.equal(0o700);
      // The default home lies in the user's, covered whole.
      expect(view.cover).to.deep.equal([realpathSync(home), realpathSync(otherHome), realpathSync(user)]);
      expect(view.fresh).to.include(realpathSync(tmp));
      expect(view.fresh).to.not.include('/');
      expect(view.fresh).to.not.include(realpathSync(dir.path));
      expect(view.fresh!.every((p) => existsSync(p))).to.equal(true);
      expect(view.readOnly).to.equal(true);
      // A file that is not there (the bundle) is not kept.
      expect(view.keep).to.deep.equal([
        { path: realpathSync(hop), writable: true },
        { path: realpathSync(join(home, 'ca.crt')) },
        { path: realpathSync('/usr/bin/env') },
      ]);
      expect(view.keep!.some((k) => isInside(k.path, user))).to.equal(false);
    } finally {
      dir.remove();
    }
  });

  it("of the user's home, only the directories its programs lie in are kept, never the home nor moat's state", () => {
    const dir = tmpDir('moat-keep-');
    try {
      const user = join(dir.path, 'user');
      const moat = join(user, '.moat');
      const hop = join(moat, 'chains', 'c', 'hops', '1-x');
      mkdirSync(hop, { recursive: true });
      const file = (path: string) => {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, '');
        return path;
      };
      // An interpreter under ~/.nvm; a tool linked from ~/.local/bin into a venv; a project's tool, linked within its
      // node_modules; a script right in the home; one in moat's state (refused by `up`, never kept).
      const node = file(join(user, '.nvm', 'versions', 'node', 'v1', 'bin', 'node'));
      const tool = file(join(user, '.local', 'share', 'venvs', 'tool', 'bin', 'tool'));
      mkdirSync(join(user, '.local', 'bin'), { recursive: true });
      symlinkSync(tool, join(user, '.local', 'bin', 'tool'));
      const cli = file(join(user, 'proj', 'node_modules', 'pkg', 'cli.js'));
      mkdirSync(join(user, 'proj', 'node_modules', '.bin'));
      symlinkSync('../pkg/cli.js', join(user, 'proj', 'node_modules', '.bin', 'pkg'));
      file(join(user, 'proj', '.env'));
      const script = file(join(user, 'hop.js'));
      const inState = file(join(moat, 'bin', 'hop'));
      const view = isolatedHopHiding(
        {
          moatHomes: [moat],
          pm2Home: join(moat, 'chains', 'c', 'pm2'),
          tmpDirs: [],
          userHome: user,
          hopDir: hop,
          caFiles: [],
          programs: [
            node,
            join(user, '.local', 'bin', 'tool'),
            join(user, 'proj', 'node_modules', '.bin', 'pkg'),
            script,
            inState,
            cli,
          ],
        },
        '/usr/bin/mount',
        4242,
        [],
      );
      const real = (p: string) => realpathSync(p);
      expect(view.cover).to.deep.equal([real(user)]);
      expect(view.keep).to.deep.equal([
        { path: real(hop), writable: true },
        { path: real(join(user, '.nvm')) },
        { path: real(join(user, '.local')) },
        { path: real(join(user, 'proj', 'node_modules')) },
        { path: real(script) },
      ]);
    } finally {
      dir.remove();
    }
  });

  it('a home of / is not covered: a tmpfs there would hide everything', () => {
    const dir = tmpDir('moat-keep-');
    try {
      const home = join(dir.path, 'home');
      const hop = join(home, 'chains', 'c', 'hops', '1-x');
      mkdirSync(hop, { recursive: true });
      const view = isolatedHopHiding(
        {
          moatHomes: [home],
          pm2Home: join(home, 'pm2'),
          tmpDirs: [],
          userHome: '/',
          hopDir: hop,
          caFiles: [],
          programs: ['/usr/bin/env'],
        },
        '/usr/bin/mount',
        4242,
        [],
      );
      expect(view.cover).to.deep.equal([realpathSync(home)]);
      expect(view.keep).to.deep.include({ path: realpathSync('/usr/bin/env') });
    } finally {
      dir.remove();
    }
  });

  it("finds the pm2 homes of this user's running pm2 daemons, by their command line and environment", async () => {
    const daemon = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      argv0: 'PM2 v6.0.8: God Daemon (/somewhere/pm2)',
      env: { PM2_HOME: '/somewhere/chains/x/pm2' },
      stdio: 'ignore',
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(runningPm2Homes(process.getuid!())).to.include('/somewhere/chains/x/pm2');
      expect(runningPm2Homes(process.getuid!() + 1)).to.not.include('/somewhere/chains/x/pm2');
    } finally {
      daemon.kill('SIGKILL');
    }
  });
});
