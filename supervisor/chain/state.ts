// Where a chain keeps its files. MOAT_HOME (default ~/.moat) holds the CA shared by all
// chains; each chain has its own state directory with its token, plan, pm2 home and logs.
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';

export interface StateLayout {
  moatHome: string;
  stateDir: string;
  caCertFile: string;
  caKeyFile: string;
  leafKeyFile: string;
  caBundleFile: string;
  /** The agent's credential: what `moat chain env` hands out; it opens ingress and nothing else. */
  tokenFile: string;
  /** The credentials of the listeners (links/<process id>.token), written at every `up`, removed by `down`. */
  linksDir: string;
  /**
   * Where the credential of one process's listener is kept (every Moat process but ingress, an isolated hop's
   * entrance).
   */
  linkTokenFile(processId: string): string;
  /** The dashboard's own token (not the chain token, which authorizes proxy use). */
  dashboardTokenFile: string;
  /**
   * Egress's secrets (grant keys, the upstream proxy's credentials), sealed by `up` (hops/runtime/sealed-secrets.ts),
   * and the key they are sealed under (beside the listeners' credentials: new at every `up`, removed by `down`).
   */
  egressSecretsFile: string;
  egressSecretsKeyFile: string;
  planFile: string;
  runDir: string;
  logDir: string;
  natsDir: string;
  ledgerFile: string;
  pm2Home: string;
  hopDir(hop: number, name: string): string;
}

export function moatHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.MOAT_HOME || join(homedir(), '.moat');
}

/**
 * A chain's pm2 home in the temporary directory, when its own path would be too long: moat-pm2-<digest of the state
 * dir>.
 */
export const PM2_TMP_PREFIX = 'moat-pm2-';

// Unix socket paths are limited to 108 bytes; pm2 hangs on longer ones.
const MAX_SOCKET_PATH = 100;

export function stateLayout(chain: string, home: string = moatHome()): StateLayout {
  const stateDir = join(home, 'chains', chain);
  let pm2Home = join(stateDir, 'pm2');
  if (join(pm2Home, 'pub.sock').length > MAX_SOCKET_PATH) {
    const digest = createHash('sha256').update(stateDir).digest('hex').slice(0, 12);
    pm2Home = join(tmpdir(), `${PM2_TMP_PREFIX}${digest}`);
  }
  return {
    moatHome: home,
    stateDir,
    caCertFile: join(home, 'ca.crt'),
    caKeyFile: join(home, 'ca.key'),
    leafKeyFile: join(home, 'leaf.key'),
    caBundleFile: join(home, 'ca-bundle.pem'),
    tokenFile: join(stateDir, 'token'),
    linksDir: join(stateDir, 'links'),
    linkTokenFile: (id) => join(stateDir, 'links', `${id}.token`),
    dashboardTokenFile: join(stateDir, 'dashboard-token'),
    egressSecretsFile: join(stateDir, 'run', 'egress.secrets'),
    egressSecretsKeyFile: join(stateDir, 'links', 'egress.secrets.key'),
    planFile: join(stateDir, 'plan.json'),
    runDir: join(stateDir, 'run'),
    logDir: join(stateDir, 'logs'),
    natsDir: join(stateDir, 'nats'),
    ledgerFile: join(stateDir, 'ledger.db'),
    pm2Home,
    hopDir: (hop, name) => join(stateDir, 'hops', `${hop}-${name}`),
  };
}

/** A fresh chain token: 32 random bytes, written 0600. */
export function newToken(layout: StateLayout): string {
  mkdirSync(layout.stateDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  writeFileSync(layout.tokenFile, token, { mode: 0o600 });
  return token;
}

export function readToken(layout: StateLayout): string | undefined {
  return existsSync(layout.tokenFile) ? readFileSync(layout.tokenFile, 'utf8').trim() : undefined;
}
