// Where a secret ended up on disk: every regular file under a directory, and those of them holding one of the
// secrets. For tests that check a real key stays out of the chain's state (ledger, logs, specs, hop directories).
import { existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CliChain } from './cli-chain';

/** Every regular file under `dir` (symbolic links not followed); none if it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = lstatSync(path);
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

/** The files whose bytes contain any of `secrets`. */
export function holdersOf(secrets: string[], files: string[]): string[] {
  return files.filter((f) => {
    const bytes = readFileSync(f);
    return secrets.some((k) => bytes.includes(k));
  });
}

/** Every file of a chain: its MOAT_HOME (state directory, CA, ledger, logs, specs) and pm2's home if elsewhere. */
export function chainFiles(chain: CliChain): string[] {
  return [
    ...filesUnder(chain.home),
    ...(chain.layout.pm2Home.startsWith(chain.home) ? [] : filesUnder(chain.layout.pm2Home)),
  ];
}
