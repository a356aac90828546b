// What moat keeps that a process in namespaces of its own must not read (the agent of `run --transparent`, a hop
// with `isolation: netns`): MOAT_HOME with every chain's state directory, and pm2's homes where they lie outside it
// (in /tmp when a state directory's path is long). hide-state.ts covers them inside the namespace; of what they
// hold, an isolated hop gets back only what it needs (`keptPaths`).
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { PM2_TMP_PREFIX, type StateLayout } from '../chain/state';

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

/**
 * What an isolated hop needs of moat's files: its own directory (its files, its HOME) and the Moat CA with the trust
 * bundle its runtime reads. By their real path, as the covered paths are, so one can be found inside the other.
 */
export function keptPaths(paths: readonly string[]): string[] {
  return outermost(realPaths(paths));
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
