// The mounts that hide moat's state inside a namespace (hide-state.ts), and what an isolated hop's namespace hides and
// keeps (covered-paths.ts). Pure but for the last: the steps and the paths, no mount is made.
import { expect } from 'chai';
import { existsSync, mkdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hideSteps, parseMountinfo } from '../../../../supervisor/transparent/hide-state';
import { isolatedHopHiding, runningPm2Homes } from '../../../../supervisor/transparent/covered-paths';
import { isInside } from '../../../../supervisor/chain/private-files';
import { execFileSync, spawn } from 'node:child_process';
import { tmpDir } from '../../../helpers/tmp';

// A host whose /etc/resolv.conf leads into /run keeps it: these tests name none, to compare whole lists.
const NO_RESOLV_CONF = '/nonexistent/resolv.conf';
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
        NO_RESOLV_CONF,
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

  describe("an isolated hop's programs in the user's home", () => {
    const dir = tmpDir('moat-keep-');
    after(() => dir.remove());
    const user = join(dir.path, 'user');
    const moat = join(user, '.moat');
    const hop = join(moat, 'chains', 'c', 'hops', '1-x');
    mkdirSync(hop, { recursive: true });
    const file = (path: string) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, '');
      return path;
    };
    const link = (target: string, path: string) => {
      mkdirSync(dirname(path), { recursive: true });
      symlinkSync(target, path);
      return path;
    };
    const real = (p: string) => realpathSync(p);
    const view = (programs: string[], installed: string[] = [], moatHomes = [moat]) =>
      isolatedHopHiding(
        {
          moatHomes,
          pm2Home: join(moat, 'chains', 'c', 'pm2'),
          tmpDirs: [],
          userHome: user,
          hopDir: hop,
          caFiles: [],
          programs,
          installed,
        },
        '/usr/bin/mount',
        4242,
        [],
        NO_RESOLV_CONF,
      );
    const secret = file(join(user, '.ssh', 'id_ed25519'));
    file(join(user, 'proj', '.env'));
    file(join(user, '.local', 'share', 'keyrings', 'login.keyring'));

    it('keeps a script and its interpreter with their installs, a binary and a named file alone', () => {
      // An interpreter under ~/.nvm; a tool linked from ~/.local/bin into a venv; a project's tool, linked within
      // its node_modules; a native binary in ~/.local/bin; a config file named on the command line.
      const node = file(join(user, '.nvm', 'versions', 'node', 'v1', 'bin', 'node'));
      const venvTool = file(join(user, '.local', 'share', 'venvs', 'tool', 'bin', 'tool'));
      file(join(user, '.local', 'share', 'venvs', 'tool', 'pyvenv.cfg'));
      const toolLink = link(venvTool, join(user, '.local', 'bin', 'tool'));
      file(join(user, 'proj', 'node_modules', 'pkg', 'cli.js'));
      const pkg = link('../pkg/cli.js', join(user, 'proj', 'node_modules', '.bin', 'pkg'));
      const native = file(join(user, '.local', 'bin', 'native'));
      const conf = file(join(user, 'proj', 'hop.yaml'));
      const v = view([native, conf], [toolLink, pkg, node]);
      expect(v.cover).to.deep.equal([real(user)]);
      expect(v.keep).to.deep.equal([
        { path: real(hop), writable: true },
        { path: real(native) },
        { path: real(conf) },
        // The link's place too, bound as the file it leads to: a venv's python is known by where it lies.
        { path: join(real(dirname(toolLink)), 'tool') },
        { path: real(join(user, '.local', 'share', 'venvs', 'tool')) },
        { path: real(join(user, 'proj', 'node_modules')) },
        { path: real(join(user, '.nvm', 'versions', 'node', 'v1')) },
      ]);
      // What the user keeps beside them stays hidden.
      for (const hidden of [secret, join(user, 'proj', '.env'), join(user, '.local', 'share', 'keyrings')])
        expect(
          v.keep!.some((k) => isInside(hidden, k.path)),
          hidden,
        ).to.equal(false);
    });

    it("follows no path the hop could have laid: in its directory, or leading through it; none in moat's state", () => {
      // The hop replaced `{dir}/data` (a word of its command) with a link to ~/.ssh, and `{dir}/bin/python` (where
      // a PATH through its directory finds an interpreter) with one to a script in the home; a directory the user
      // linked into the hop's directory leads to another link of the hop's.
      const data = link(join(user, '.ssh'), join(hop, 'data'));
      const python = link(join(user, 'proj', '.env'), join(hop, 'bin', 'python'));
      link(secret, join(hop, 'sub', 'key'));
      const through = link(join(hop, 'sub'), join(user, 'through'));
      // The hop's directory itself a link to ~/.ssh, reached by a link of the user's; a file of the user's linked to
      // one in the hop's directory, which the hop made a link to the key; the hop's directory spelled through a link
      // to moat's home (`{dir}` as MOAT_HOME names it).
      link(join(user, '.ssh'), join(hop, 'sub2'));
      const through2 = link(join(hop, 'sub2'), join(user, 'through2'));
      link(secret, join(hop, 'hop.yaml'));
      const userFile = link(join(hop, 'hop.yaml'), join(user, 'hop.yaml'));
      const moatLink = link(moat, join(user, 'moat-link'));
      const spelled = join(moatLink, 'chains', 'c', 'hops', '1-x', 'data', 'id_ed25519');
      const inState = file(join(moat, 'bin', 'hop'));
      const v = view([data, join(through, 'key'), join(through2, 'id_ed25519'), userFile, spelled, inState], [python]);
      expect(v.keep).to.deep.equal([{ path: real(hop), writable: true }]);
    });

    it("an install holding moat's state is not kept, only the file, and the home itself never", () => {
      // MOAT_HOME in ~/.local/share/moat; a script in a venv around it; one right in the home.
      const inner = join(user, '.venv', 'share', 'moat');
      mkdirSync(inner, { recursive: true });
      file(join(user, '.venv', 'pyvenv.cfg'));
      const script = file(join(user, '.venv', 'bin', 'hop'));
      const top = file(join(user, 'hop.js'));
      const v = view([], [script, top], [moat, inner]);
      expect(v.keep).to.deep.equal([{ path: real(hop), writable: true }, { path: real(script) }, { path: real(top) }]);
      // Without moat's state in it, the venv is the install.
      expect(view([], [script]))
        .to.have.deep.property('keep')
        .that.deep.includes({ path: real(join(user, '.venv')) });
    });

    it('a word that leads to no file or directory (/dev/stderr, a FIFO), or into /proc by a link, is not kept', () => {
      const fifo = join(user, 'pipe');
      execFileSync('mkfifo', [fifo]);
      const environ = link('/proc/self/environ', join(user, 'env-link'));
      const v = view(['/dev/stderr', '/proc/self/environ', join(user, 'missing'), fifo, environ]);
      expect(v.keep).to.deep.equal([{ path: real(hop), writable: true }]);
    });

    it('a program named through a linked directory of the home (dotfiles ~/bin) is kept as named too', () => {
      const proxy = file(join(user, 'dotfiles', 'bin', 'proxy'));
      const named = join(link(join(user, 'dotfiles', 'bin'), join(user, 'bin')), 'proxy');
      const v = view([], [named]);
      expect(v.keep).to.deep.equal([{ path: real(hop), writable: true }, { path: named }, { path: real(proxy) }]);
    });
  });

  it('/run is fresh, and the resolver file kept where /etc/resolv.conf leads into a fresh directory', () => {
    const dir = tmpDir('moat-keep-');
    try {
      const home = join(dir.path, 'home');
      const hop = join(home, 'chains', 'c', 'hops', '1-x');
      mkdirSync(hop, { recursive: true });
      const tmp = join(dir.path, 'tmp');
      mkdirSync(join(tmp, 'resolve'), { recursive: true });
      writeFileSync(join(tmp, 'resolve', 'stub-resolv.conf'), 'nameserver 127.0.0.53\n');
      const resolvConf = join(dir.path, 'resolv.conf');
      symlinkSync(join(tmp, 'resolve', 'stub-resolv.conf'), resolvConf);
      const hidden = {
        moatHomes: [home],
        pm2Home: join(home, 'pm2'),
        userHome: '/',
        hopDir: hop,
        caFiles: [],
        programs: [],
      };
      const v = isolatedHopHiding({ ...hidden, tmpDirs: [tmp] }, '/usr/bin/mount', 4242, [], resolvConf);
      expect(v.fresh).to.include('/run').and.include(realpathSync(tmp));
      expect(v.keep).to.deep.include({ path: realpathSync(join(tmp, 'resolve', 'stub-resolv.conf')) });
      // A resolver file outside every fresh directory is seen where it is.
      const w = isolatedHopHiding({ ...hidden, tmpDirs: [] }, '/usr/bin/mount', 4242, [], resolvConf);
      expect(w.keep).to.deep.equal([{ path: realpathSync(hop), writable: true }]);
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
        NO_RESOLV_CONF,
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
