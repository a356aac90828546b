// `moat grant <args>` for end-to-end and security tests: in a chain's MOAT_HOME, the key piped on standard input (as
// a user would: never on the command line), the system keyring off so a developer's own is never touched.
import { spawnSync } from 'node:child_process';
import { MOAT_BIN, type CliChain, type CliResult } from './cli-chain';

export function grantCli(chain: Pick<CliChain, 'env'>, args: string[], input = ''): CliResult {
  const res = spawnSync(process.execPath, [MOAT_BIN, 'grant', ...args], {
    env: { ...chain.env, MOAT_GRANT_KEYRING: 'off' },
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

/** `pm2 <args>` against a chain's own pm2 daemon (its PM2_HOME): what any process of the user could ask it. */
export function pm2Cli(pm2Home: string, args: string[]): CliResult {
  const res = spawnSync(process.execPath, [require.resolve('pm2/bin/pm2'), ...args], {
    env: { ...process.env, PM2_HOME: pm2Home },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}
