// The files of moat an agent under `run --transparent` may see: copies of the Moat CA and the trust bundle, in a
// directory of the run's own (0700, removed when the run ends), since the originals in MOAT_HOME are covered
// inside its namespace together with everything else moat keeps (covered-paths.ts, hide-state.ts).
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StateLayout } from '../chain/state';
import { MoatError } from '../errors';

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
