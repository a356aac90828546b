// What moat keeps that a process in namespaces of its own must not read (the agent of `run --transparent`, a hop
// with `isolation: netns`): MOAT_HOME with every chain's state directory, and pm2's homes where they lie outside it
// (in /tmp when a state directory's path is long). hide-state.ts covers them inside the namespace; of what they
// hold, an isolated hop gets back only what it needs (`isolatedHopHiding`).
import { existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { PM2_TMP_PREFIX, type StateLayout } from '../chain/state';
import type { HiddenState } from './protocol';

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
  /** The hop's own directory: kept, writable. */
  hopDir: string;
  /** The Moat CA and its trust bundle: kept, read-only. */
  caFiles: string[];
  /**
   * Moat's own tree and the hop's binary: kept, read-only, where a tmpfs would hide them (an install or a clone in
   * /tmp). Nothing in them is secret.
   */
  programs: string[];
}

/**
 * The hop's view (hide-state.ts): moat's state covered, /tmp, /dev/shm and the user's runtime directory fresh (other
 * chains' pm2 homes, the session bus and other programs' sockets lie there), everything else read-only, its own
 * directory and the CA files kept. Found at each start: a chain started since has a pm2 home of its own.
 */
export function isolatedHopHiding(hidden: IsolatedHopHidden, mount: string, uid: number): HiddenState {
  // A default home made later would be visible (read-only, but with the credentials of the chains started there).
  for (const home of hidden.moatHomes) mkdirSync(home, { recursive: true, mode: 0o700 });
  const fresh = realPaths([...hidden.tmpDirs, '/dev/shm', `/run/user/${uid}`]);
  const cover = outermost(realPaths([...hidden.moatHomes, hidden.pm2Home]));
  const keep = [
    ...realPaths([hidden.hopDir]).map((path) => ({ path, writable: true })),
    ...outermost(realPaths([...hidden.caFiles, ...hidden.programs])).map((path) => ({ path })),
  ];
  return { mount, cover, fresh: outermost(fresh), readOnly: true, keep };
}

/** Of the given absolute paths, those not inside another of them, without duplicates (pure). */
export function outermost(paths: readonly string[]): string[] {
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && isInside(p, q)));
}

/** `path` is `dir` or lies under it (pure; both absolute and normalised). */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function realPaths(paths: readonly string[]): string[] {
  return paths.filter((p) => existsSync(p)).map((p) => realpathSync(p));
}
