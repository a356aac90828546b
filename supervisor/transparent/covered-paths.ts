// What moat keeps that a process in namespaces of its own must not read (the agent of `run --transparent`, a hop
// with `isolation: netns`): MOAT_HOME with every chain's state directory, and pm2's homes where they lie outside it
// (in /tmp when a state directory's path is long). hide-state.ts covers them inside the namespace; of what they
// hold, an isolated hop gets back only what it needs (`isolatedHopHiding`).
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { isInside } from '../chain/private-files';
import { PM2_TMP_PREFIX, type StateLayout } from '../chain/state';
import type { HiddenState } from './protocol';
import { followedPath, installRoot } from './program-paths';

/**
 * The directories covered inside the namespace: existing ones, by their real path, none inside another. Every
 * chain's pm2 home in /tmp is covered, not only this chain's: a pm2 socket would let the process start another one
 * outside the namespaces, or read that chain's egress environment.
 */
export function coveredPaths(layout: Pick<StateLayout, 'moatHome' | 'pm2Home'>, tmp: string = tmpdir()): string[] {
  let pm2Homes: string[] = [];
  try {
    pm2Homes = readdirSync(tmp)
      .filter((n) => n.startsWith(PM2_TMP_PREFIX))
      .map((n) => join(tmp, n));
  } catch {
    // no readable tmpdir: nothing of moat's there
  }
  return outermost(realPaths([layout.moatHome, layout.pm2Home, ...pm2Homes]));
}

/** What `up` tells an isolated hop's wrapper to hide (hop-main.ts), as paths when `up` ran. */
export interface IsolatedHopHidden {
  /** The chain's MOAT_HOME and the default one (~/.moat): covered, the default made first if it is not there. */
  moatHomes: string[];
  pm2Home: string;
  /** Where pm2 homes of long state paths go (/tmp, and the CLI's TMPDIR where that differs): fresh. */
  tmpDirs: string[];
  /** The user's home: covered (a TMPDIR holding it is not made fresh). */
  userHome: string;
  /** The hop's own directory: kept, writable. */
  hopDir: string;
  /** The Moat CA and its trust bundle: kept, read-only. */
  caFiles: string[];
  /**
   * Moat's own tree, and of what the hop's command needs (program-paths.ts `commandPrograms`) a binary and the files
   * its words name: kept, read-only, where a cover or a tmpfs would hide them (the home, a clone in /tmp).
   */
  programs: string[];
  /** The hop's script and its interpreter: kept the same way, with their install (`installRoot`). */
  installed?: string[];
}

/**
 * The hop's view (hide-state.ts): moat's state covered (the chain's home, the default one, and those of every chain
 * running now, found by their pm2 daemons), and the user's home with its keys; /tmp, /dev/shm, /dev/pts and /run
 * fresh (pm2 homes of long state paths, the user's terminals, the session bus, the system daemons' and other
 * programs' sockets lie there), everything else read-only, its own directory, the CA files and its programs kept.
 * Found at each start: a chain started since has a pm2 home of its own.
 */
export function isolatedHopHiding(
  hidden: IsolatedHopHidden,
  mount: string,
  uid: number,
  pm2Homes: string[] = runningPm2Homes(uid),
  resolvConf = '/etc/resolv.conf',
): HiddenState {
  for (const home of hidden.moatHomes) {
    try {
      // A default home made later would be visible (read-only, but with the credentials of the chains started there).
      mkdirSync(home, { recursive: true, mode: 0o700 });
    } catch {
      // a broken link in its place: covered if it leads somewhere, as it is
    }
  }
  // A running chain's pm2 home lies in its state directory (<home>/chains/<name>/pm2) or in /tmp (fresh anyway).
  const homesOfRunning = pm2Homes.map((p) => /^(\/.+)\/chains\/[^/]+\/pm2$/.exec(p)?.[1] ?? p);
  // A home of / (some service users') is left read-only: a tmpfs there would hide everything.
  const userHome = realPaths([hidden.userHome]).filter((h) => h !== '/');
  const moatState = realPaths([...hidden.moatHomes, hidden.pm2Home, join(hidden.userHome, '.pm2'), ...homesOfRunning]);
  const cover = outermost([...moatState, ...userHome]);
  // A TMPDIR of / or one holding the user's home stays as it is (read-only): a tmpfs there would hide everything.
  const tmpDirs = hidden.tmpDirs.filter(
    (d) => d !== '/' && ![hidden.userHome, ...userHome].some((h) => isInside(h, d)),
  );
  // /run holds the system daemons' sockets, which take the user's commands as the user's own: Docker's (root on the
  // machine, for a user in its group), a database's (peer authentication), the system bus. Of it, the resolver's
  // file stays (/etc/resolv.conf may lead there): the namespace's DNS is captured at the address it names.
  const fresh = outermost(realPaths([...tmpDirs, '/dev/shm', '/dev/pts', '/run', `/run/user/${uid}`]));
  const resolver = realPaths([resolvConf]).filter((p) => fresh.some((f) => isInside(p, f)));
  const hopDir = realPaths([hidden.hopDir]);
  // The hop writes in its directory, and moat's state holds what it must not read: a path there, or one whose way
  // passes through there, is not followed (a link the hop left at `{dir}/data` could lead to ~/.ssh).
  const refused = (p: string) => [...moatState, ...hopDir].some((d) => isInside(p, d));
  // A program is kept as its path names it, where it lies and where it leads: under a tmpfs the names on its way
  // are gone (a link to it, a linked ~/bin, PATH's /run/current-system that `env` searches), so the path as named is
  // made there and bound to the file it leads to. Only a file or a directory (/dev/stderr leads to a pipe of this
  // process's, a FIFO would hold the binding open).
  const masks = [...cover, ...fresh];
  const located = (p: string): string[] => {
    if (!isAbsolute(p) || SYSTEM_TREES.some((d) => isInside(p, d))) return [];
    const dir = followedPath(dirname(p), refused);
    const real = followedPath(p, refused);
    if (!dir || !real || SYSTEM_TREES.some((d) => isInside(real, d)) || !isFileOrDirectory(real)) return [];
    const named = normalize(p);
    return [...(masks.some((m) => isInside(named, m)) ? [named] : []), join(dir, basename(p)), real];
  };
  // A kept directory holding a cover or the hop's directory would bring back what is under them: then the file
  // alone.
  const holdsHidden = (p: string) => [...moatState, ...userHome, ...hopDir].some((inner) => isInside(inner, p));
  const withInstall = (p: string) => {
    const root = userHome.length > 0 ? installRoot(p, userHome[0]) : p;
    return holdsHidden(root) ? p : root;
  };
  const programs = [
    ...hidden.programs.flatMap(located),
    ...(hidden.installed ?? []).flatMap(located).map(withInstall),
  ].filter((p) => !holdsHidden(p));
  const keep = [
    ...hopDir.map((path) => ({ path, writable: true })),
    ...outermost([...realPaths(hidden.caFiles), ...programs, ...resolver]).map((path) => ({ path })),
  ];
  return { mount, cover, fresh, readOnly: true, keep };
}

// The kernel's own trees: nothing there is a program or a file a hop is handed.
const SYSTEM_TREES = ['/dev', '/proc', '/sys'];

function isFileOrDirectory(path: string): boolean {
  try {
    const stat = statSync(path);
    return stat.isFile() || stat.isDirectory();
  } catch {
    return false;
  }
}

/** PM2_HOME of every pm2 daemon of this user running now (~/.pm2 where it says none). */
export function runningPm2Homes(uid: number): string[] {
  const homes: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (statSync(`/proc/${pid}`).uid !== uid) continue;
      if (!readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('God Daemon')) continue;
      const variable = readFileSync(`/proc/${pid}/environ`, 'latin1')
        .split('\0')
        .find((v) => v.startsWith('PM2_HOME='));
      if (variable) homes.push(variable.slice('PM2_HOME='.length));
    } catch {
      // gone meanwhile
    }
  }
  return homes;
}

/** Of the given absolute paths, those not inside another of them, without duplicates (pure). */
export function outermost(paths: readonly string[]): string[] {
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && isInside(p, q)));
}

function realPaths(paths: readonly string[]): string[] {
  return paths.filter((p) => existsSync(p)).map((p) => realpathSync(p));
}
