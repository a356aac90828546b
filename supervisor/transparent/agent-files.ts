// The files of moat an agent under `run --transparent` may see: copies of the Moat CA and the trust bundle, in a
// directory of the run's own (0700, removed when the run ends), since the originals in MOAT_HOME are covered
// inside its namespace together with everything else moat keeps (hide-state.ts): MOAT_HOME with every chain's
// state directory, and pm2's home where it lies outside (in /tmp when the state directory's path is long).
import { copyFileSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, isAbsolute } from 'node:path';
import { PM2_TMP_PREFIX, type StateLayout } from '../chain/state';
import { MoatError } from '../errors';

/**
 * The directories covered inside the namespace: existing ones, by their real path, none inside another. Every
 * chain's pm2 home in /tmp is covered, not only this chain's: another chain's pm2 socket would let the agent start a
 * process outside the namespaces, or read that chain's egress environment.
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
  const real = [layout.moatHome, layout.pm2Home, ...pm2Homes].filter((p) => existsSync(p)).map((p) => realpathSync(p));
  return outermost(real);
}

/** Of the given absolute paths, those not inside another of them, without duplicates (pure). */
export function outermost(paths: readonly string[]): string[] {
  const inside = (path: string, dir: string) => {
    const rel = relative(dir, path);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && inside(p, q)));
}

export interface AgentTrust {
  /** The directory holding both. */
  dir: string;
  caCertFile: string;
  caBundleFile: string;
  /** Removes the directory; safe to call twice. */
  remove(): void;
}

/** Copies ca.crt and ca-bundle.pem to a fresh directory (0700, files 0600: only the user's processes read them). */
export function copyTrust(layout: Pick<StateLayout, 'caCertFile' | 'caBundleFile'>): AgentTrust {
  const dir = mkdtempSync(join(tmpdir(), 'moat-run-'));
  try {
    const caCertFile = join(dir, 'ca.crt');
    const caBundleFile = join(dir, 'ca-bundle.pem');
    copyFileSync(layout.caCertFile, caCertFile);
    copyFileSync(layout.caBundleFile, caBundleFile);
    return { dir, caCertFile, caBundleFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new MoatError('MOAT_ERR_CA', `cannot copy the Moat CA for the agent into ${dir}: ${(err as Error).message}`);
  }
}
