// The chain's life cycle: plan, up (nats-server and the hops together, ingress last, once every other
// process accepts connections), status and down. All process control goes through pm2.
import { appendFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync, rmSync } from 'node:fs';
import { basename, join, resolve, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { loadConfigFile, type LoadedConfig } from '../config/load';
import { buildPlan, displayPlan, type Plan, type PlannedProcess } from './plan';
import { moatHome, stateLayout, newToken, readToken, type StateLayout } from './state';
import { ensureCa } from './ca';
import { accepts, freePorts, waitForPort } from './ports';
import { chainDaemons, chainProcesses, isAlive, isZombie, stopProcesses } from '../../hops/runtime/chain-processes';
import { Pm2Session, type Pm2App, type Pm2Process } from './pm2-session';
import { MoatError } from '../errors';
import { findOnPath } from './find-on-path';
import type { NatsConnection } from 'nats';
import { nats } from '../nats-module';
import { ensureLedgerKey } from '../ledger/writer';
import { ensureStream, ownerOf } from '../ledger/stream';
import { redactNatsUrl, natsConnection } from '../../hops/events/nats-url';
import { readGrantKeys, egressKeyEnv, type GrantDef } from '../config/grants';
import { openStore, type OpenedStore } from '../grants/store';
import { writeSealedSecrets } from '../../hops/runtime/sealed-secrets';
import { readUpstreamProxyCredentials, upstreamProxyEnv } from '../config/upstream-proxy';
import { writeDashboardToken } from '../dashboard/auth';
import { dashboardUrl } from '../dashboard/spec';
import { checkNamespaces, findTool, namespaceTools } from '../transparent/namespaces';
import { outermost } from '../transparent/covered-paths';
import { commandPrograms, runnablePath } from '../transparent/program-paths';
import { isolationPurpose, type IsolatedHopSpec } from '../transparent/hop-main';
import { isInside, makeStatePrivate, makeTreePrivate } from './private-files';
import { daemonDiedError, deadDaemonPid } from './daemon-death';
import { ADMIN_USER, withNatsSeeds } from './nats-auth';
import { prepareNatsAuth } from './nats-credentials';
import { readLedgerHealth, type LedgerHealth } from '../ledger/health';
import { ENTRY_POINTS, REPO_ROOT } from '../paths';
import { writeHopFiles } from './hop-files';

const HOP_MAIN = ENTRY_POINTS.hop;
const LEDGER_MAIN = ENTRY_POINTS.ledgerWriter;
const DASHBOARD_MAIN = ENTRY_POINTS.dashboard;
const METRICS_MAIN = ENTRY_POINTS.metrics;
const ISOLATED_HOP_MAIN = ENTRY_POINTS.isolatedHop;
const READY_TIMEOUT_MS = 15_000;

export interface ChainContext {
  loaded: LoadedConfig;
  layout: StateLayout;
}

export function chainContext(configFile?: string): ChainContext {
  const loaded = loadConfigFile(configFile);
  return { loaded, layout: stateLayout(loaded.config.name) };
}

/** Resolves the plan with free ports; `up` uses it, `plan` shows it. */
export async function makePlan(
  ctx: ChainContext,
  token: string,
  grantKeys: readonly string[] = chainGrantKeys(ctx),
): Promise<Plan> {
  const { loaded, layout } = ctx;
  // ingress, egress, one per built-in hop, two per third-party hop (link + proxy), nats-server, moat-telemetry's
  // metrics process, the dashboard.
  const count = 5 + loaded.config.proxies.reduce<number>((n, p) => n + (typeof p === 'string' ? 1 : 2), 0);
  const ports = await freePorts(count);
  // The link credentials are new at every plan, like the token; only `up` writes them down (writeLinkTokens).
  const linkSecret = randomBytes(32).toString('hex');
  return buildPlan({
    config: loaded.config,
    configFile: resolve(loaded.file),
    layout,
    token,
    linkSecret,
    allocatePort: () => ports.shift()!,
    grantKeys,
  });
}

/** Each listener's credential in its own file (0600), read by the process that listens and by the one before it. */
function writeLinkTokens(layout: StateLayout, plan: Plan): void {
  rmSync(layout.linksDir, { recursive: true, force: true }); // the last `up`'s credentials are no good any more
  mkdirSync(layout.linksDir, { recursive: true, mode: 0o700 });
  for (const [file, value] of Object.entries(plan.linkTokens ?? {})) writeFileSync(file, value, { mode: 0o600 });
}

/**
 * The real keys of the chain's grants: from this process's environment, else from the grant store under MOAT_HOME
 * (opened, whole, only when the environment lacks one: MOAT_ERR_GRANT_STORE when it is damaged; MOAT_ERR_GRANT_KEY
 * when neither has a key).
 */
export function chainGrantKeys(
  { loaded, layout }: ChainContext,
  env: NodeJS.ProcessEnv = process.env,
  store: () => OpenedStore | undefined = () => openStore(layout.moatHome),
): string[] {
  let previous: string[] = [];
  try {
    previous = Object.values((JSON.parse(readFileSync(layout.planFile, 'utf8')) as Plan).placeholders ?? {});
  } catch {
    // no earlier plan
  }
  let opened: OpenedStore | undefined | null = null;
  const stored = (def: GrantDef) => {
    if (opened === null) opened = store();
    const g = opened?.grants.find((x) => x.host === def.host);
    return g && { key: g.key, from: `the grant store's entry "${g.name}" (${opened!.file})` };
  };
  return readGrantKeys(loaded.config, loaded.where, env, previous, stored);
}

/**
 * Node options of every Moat process on the data path. A body streamed through allocates a chunk per read; V8 lets
 * its young generation grow to 3 x 16 MB before collecting them, which a 100 MB download showed as 38-41 MB of RSS
 * growth per process. With 1 MB semi-spaces it was 14-15 MB, and small requests got faster too (c=32 239 -> 267
 * req/s, c=1 p50 4.2 -> 3.7 ms, back to back): the young generation stays in cache. Since the events, 2 MB: a
 * recording process's events wait up to 100 ms for their burst and were copied by every collection meanwhile (five
 * interleaved rounds, 380 -> 445 req/s, CPU 3.97 -> 3.51 ms per request; benchmarks.md, session 15).
 * No memory reducer: once a process had carried load and then sat idle for a minute, V8's memory reducer collected and
 * shrank its heap, and the next seconds of traffic cost as much as a cold start (c=32 after 60-90 s idle, four rounds:
 * 4.71 ms CPU per request for the chain against 2.82 without it; the first 200 requests at c=1, p50 5.1 vs 3.8 ms).
 * The price is memory an idle process keeps: 95-115 MB RSS instead of 65-80 after the bench's load (session 16).
 * 4 MB since session 18, with --expose-gc: every 8 MiB of body, WebSocket or blind tunnel bytes a process passes asks
 * for a scavenge (hops/runtime/scavenge-hint.ts), so a 100 MB download grows it by 14.5-21.0 MB, as with 2 MB
 * (12.3-21.5; 4 MB without the hint: up to 32.5), and the chain spent 3.7% and 8.5% less CPU per request than with
 * 2 MB (chain-pair, 20 rounds in each order).
 */
const MOAT_NODE_ARGS = ['--max-semi-space-size=4', '--expose-gc', '--no-memory-reducer'];

export function pm2Name(plan: Pick<Plan, 'chain'>, p: Pick<PlannedProcess, 'id'>): string {
  return `${plan.chain}:${p.id}`;
}

export function logFile(layout: StateLayout, p: Pick<PlannedProcess, 'id'>): string {
  return join(layout.logDir, `${p.id}.log`);
}

/** Is the chain's pm2 daemon running? Checked by pid file, so asking never starts one. */
export function daemonPid(layout: StateLayout): number | undefined {
  const pidFile = join(layout.pm2Home, 'pm2.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0); // another user's process (a pid reused since a reboot) is not our daemon
  } catch {
    return undefined;
  }
  // A daemon killed with -9 may linger as a zombie until init reaps it: it is not up.
  return isZombie(pid) ? undefined : pid;
}

export function readRunningPlan(layout: StateLayout): Plan {
  if (daemonPid(layout) === undefined) {
    const died = daemonDiedError(layout);
    if (died) throw died;
  }
  if (!existsSync(layout.planFile) || daemonPid(layout) === undefined) {
    throw new MoatError(
      'MOAT_ERR_NOT_UP',
      `chain is not running (no live pm2 daemon in ${layout.pm2Home}); start it with \`moat chain up\``,
    );
  }
  return JSON.parse(readFileSync(layout.planFile, 'utf8')) as Plan;
}

function checkBinaries(ctx: ChainContext): void {
  const problems: string[] = [];
  ctx.loaded.config.proxies.forEach((entry, i) => {
    if (typeof entry === 'string' || findOnPath(entry.command[0])) return;
    const what = `"${entry.command[0]}" (hop ${i + 1}, ${entry.name}) is not installed or not on PATH`;
    problems.push(
      entry.install
        ? `${ctx.loaded.where(['proxies', i])}: proxies[${i}]: ${what}; install it with: ${entry.install}`
        : `${ctx.loaded.where(['proxies', i, 'command', 0])}: proxies[${i}].command[0]: ${what}`,
    );
  });
  if (problems.length) throw new MoatError('MOAT_ERR_BINARY_NOT_FOUND', problems.join('\n'));
}

/** nats-server: MOAT_NATS_SERVER, else PATH. Only needed when events.nats_url is not set. */
function natsServerBinary(ctx: ChainContext): string | undefined {
  if (ctx.loaded.config.events.nats_url) return undefined;
  const found = process.env.MOAT_NATS_SERVER ? findOnPath(process.env.MOAT_NATS_SERVER) : findOnPath('nats-server');
  if (!found) {
    throw new MoatError(
      'MOAT_ERR_NATS_NOT_FOUND',
      'nats-server is not installed: per-hop events need it. Install it with `sudo apt-get install ' +
        'nats-server` (Debian/Ubuntu) or `brew install nats-server` (macOS), set MOAT_NATS_SERVER to its path, ' +
        'or set events.nats_url to an existing NATS with JetStream',
    );
  }
  return found;
}

/** The clean environment every process starts with (pm2 gives it nothing else). */
function baseEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: process.env.LANG ?? 'C.UTF-8',
    NODE_ENV: 'production',
    disable_source_map_support: 'true',
  };
}

/**
 * The NATS users' seeds of a plan being started (moat's own nats-server only): kept beside the plan, never in it, so
 * they reach the 0600 spec files and nothing that prints or writes the plan.
 */
const natsSeeds = new WeakMap<Plan, Record<string, string>>();

/** A spec as written to its 0600 file: with the seed of each NATS user it names. */
function specText(plan: Plan, spec: object): string {
  return JSON.stringify(withNatsSeeds(spec, natsSeeds.get(plan)), null, 2);
}

function appFor(
  plan: Plan,
  layout: StateLayout,
  p: PlannedProcess,
  natsBinary?: string,
  grantKeys: readonly string[] = [],
  upstreamCredentials?: string,
): Pm2App {
  const common = { name: pm2Name(plan, p), out_file: logFile(layout, p), error_file: logFile(layout, p) };
  if (p.role === 'nats') {
    mkdirSync(layout.natsDir, { recursive: true, mode: 0o700 });
    return {
      ...common,
      script: natsBinary!,
      args: p.command!.slice(1),
      interpreter: 'none',
      cwd: layout.stateDir,
      // Go code on one thread at a time: a chain's events are tens of messages a second, and with a scheduler slot
      // per core idle threads spin looking for work on every message, beside the hops on the same cores
      // (docs/benchmarks.md, `node dist/test/bench/nats-load.js`: nats-server's CPU under the chain's event load
      // 3.65-4.70% of a core, 2.60-2.90% with this).
      env: { ...baseEnv(layout.stateDir), GOMAXPROCS: '1' },
    };
  }
  // A new up's writer starts its health afresh (pm2's restarts of it keep what the last run said).
  if (p.ledger?.healthFile) rmSync(p.ledger.healthFile, { force: true });
  // The services with a spec of their own, each in a 0600 file: the metrics process's OTLP headers may be the
  // collector's credentials, and every spec with a NATS user carries its seed.
  const service = p.ledger
    ? { script: LEDGER_MAIN, spec: p.ledger }
    : p.dashboard
      ? { script: DASHBOARD_MAIN, spec: p.dashboard }
      : p.metrics
        ? { script: METRICS_MAIN, spec: p.metrics }
        : undefined;
  if (service) {
    const specFile = join(layout.runDir, `${p.id}.json`);
    writeFileSync(specFile, specText(plan, service.spec), { mode: 0o600 });
    return {
      ...common,
      script: service.script,
      args: [specFile],
      interpreter: process.execPath,
      cwd: layout.stateDir,
      env: baseEnv(layout.stateDir),
    };
  }
  if (p.spec) {
    const specFile = join(layout.runDir, `${p.id}.json`);
    // The real keys and the upstream proxy's credentials go to egress alone: sealed in a 0600 file, under a key of
    // this `up` in another, which only egress's spec names (never its environment or command line, which pm2 shows and
    // /proc/PID/environ keeps; egress opens them at every start, pm2's restarts too).
    const secrets =
      p.role === 'egress' ? { ...egressKeyEnv(p, grantKeys), ...upstreamProxyEnv(p, upstreamCredentials) } : {};
    let spec = p.spec;
    if (Object.keys(secrets).length > 0) {
      writeSealedSecrets(layout.egressSecretsFile, layout.egressSecretsKeyFile, secrets);
      const where = { file: layout.egressSecretsFile, keyFile: layout.egressSecretsKeyFile };
      spec = { ...spec, egress: { ...spec.egress!, secrets: where } };
    }
    writeFileSync(specFile, specText(plan, spec), { mode: 0o600 });
    return {
      ...common,
      script: HOP_MAIN,
      args: [specFile],
      interpreter: process.execPath,
      node_args: MOAT_NODE_ARGS,
      cwd: layout.stateDir,
      env: baseEnv(layout.stateDir),
    };
  }
  writeHopFiles(p.cwd!, p.files ?? {});
  const [command, ...args] = p.command!;
  const binary = findOnPath(command)!;
  const env = { ...baseEnv(p.cwd!), ...p.env };
  if (p.isolation === 'netns') {
    // Our wrapper is the pm2 app; it starts the hop's command inside namespaces of its own.
    const next = plan.processes.find((x) => x.id === p.forwardsTo)!;
    const programs = commandPrograms(binary, args, env.PATH);
    const spec: IsolatedHopSpec = {
      hop: p.hop,
      name: p.name,
      port: p.port,
      next: { port: next.port, hop: next.hop, name: next.name },
      tokenFile: next.spec!.tokenFile,
      entranceFile: p.entranceFile!,
      command: [runnablePath(binary, homedir(), env.PATH), ...args],
      hidden: {
        moatHomes: [layout.moatHome, moatHome({})],
        pm2Home: layout.pm2Home,
        tmpDirs: [...new Set(['/tmp', tmpdir()])],
        userHome: homedir(),
        hopDir: p.cwd!,
        caFiles: [layout.caCertFile, layout.caBundleFile],
        programs: [REPO_ROOT, ...programs.exact],
        installed: programs.installed,
      },
    };
    const specFile = join(layout.runDir, `${p.id}.json`);
    writeFileSync(specFile, JSON.stringify(spec, null, 2), { mode: 0o600 });
    return { ...common, script: ISOLATED_HOP_MAIN, args: [specFile], interpreter: process.execPath, cwd: p.cwd, env };
  }
  return { ...common, script: binary, args, interpreter: 'none', cwd: p.cwd, env };
}

/**
 * Every hop with isolation: netns gets its namespaces on this machine (tried once, before anything starts), and its
 * binary lies where it can see it: MOAT_HOME and pm2's homes are covered inside (hide-state.ts).
 */
function checkIsolation(ctx: ChainContext): void {
  let probed = false;
  // Moat's homes are covered inside (hide-state.ts); the rest of a hop's binary's way is kept or read-only.
  const covered = outermost(
    [ctx.layout.moatHome, moatHome({})].filter((p) => existsSync(p)).map((p) => realpathSync(p)),
  );
  ctx.loaded.config.proxies.forEach((entry, i) => {
    if (typeof entry === 'string' || entry.isolation !== 'netns') return;
    if (!probed) {
      const purpose = isolationPurpose(i + 1, entry.name);
      try {
        checkNamespaces(namespaceTools(findTool, process.platform, purpose), process.getuid!(), purpose);
      } catch (err) {
        throw new MoatError(
          'MOAT_ERR_NAMESPACES',
          `${ctx.loaded.where(['proxies', i, 'isolation'])}: proxies[${i}].isolation: ${(err as Error).message}`,
        );
      }
      probed = true;
    }
    const binary = findOnPath(entry.command[0]);
    // Where it is (a link there is itself under the cover) and what it leads to.
    const where = binary ? [join(realpathSync(dirname(binary)), basename(binary)), realpathSync(binary)] : [];
    const cover = covered.find((dir) => where.some((path) => isInside(path, dir)));
    if (cover)
      throw new MoatError(
        'MOAT_ERR_NAMESPACES',
        `${ctx.loaded.where(['proxies', i, 'command', 0])}: proxies[${i}].command[0]: ${binary} (hop ${i + 1}, ` +
          `${entry.name}) lies under ${cover}, which an isolated hop cannot see (it holds moat's state); install ` +
          `it elsewhere on PATH`,
      );
  });
}

export interface UpProgress {
  (event: { process: PlannedProcess; ms: number }): void;
}

export async function up(
  ctx: ChainContext,
  onReady: UpProgress = () => undefined,
): Promise<{ plan: Plan; session: Pm2Session }> {
  const { layout } = ctx;
  if (daemonPid(layout) !== undefined) {
    throw new MoatError(
      'MOAT_ERR_ALREADY_UP',
      `chain "${ctx.loaded.config.name}" is already up; stop it with \`moat chain down\` first`,
    );
  }
  const orphans = chainProcesses(layout.pm2Home);
  if (orphans.length > 0) {
    throw new MoatError(
      'MOAT_ERR_ALREADY_UP',
      `chain "${ctx.loaded.config.name}" still has processes running without their pm2 daemon (pids ` +
        `${orphans.join(', ')}); stop them with \`moat chain down\` first`,
    );
  }
  const grantKeys = chainGrantKeys(ctx);
  // egress.upstream_proxy's user:password (MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS when its variable is not set).
  const upstreamCredentials = readUpstreamProxyCredentials(ctx.loaded.config, ctx.loaded.where, process.env);
  checkBinaries(ctx);
  checkIsolation(ctx);
  const natsBinary = natsServerBinary(ctx);
  await checkFixedPorts(ctx);
  upStep('checked');
  // Before pm2's daemon spawns: it, and every process it starts, inherit the umask set here.
  makeStatePrivate(layout);
  const session = new Pm2Session(layout.pm2Home);
  // pm2's daemon takes ~0.4 s to boot: it boots while the CA, the token and the plan are made. It is spawned from
  // this process, not with the real keys in its environment (connect hides them meanwhile; nothing below reads them).
  const connecting = session.connect(upstreamCredentials ? [...grantKeys, upstreamCredentials] : grantKeys);
  connecting.catch(() => undefined); // awaited below; a failure meanwhile must not go unhandled
  upStep('pm2 daemon asked for');
  try {
    ensureCa(layout);
    upStep('CA ready');
    const token = newToken(layout);
    const plan = await makePlan(ctx, token, grantKeys);
    upStep('plan built');
    for (const dir of [layout.runDir, layout.logDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeLinkTokens(layout, plan);
    writeFileSync(layout.planFile, JSON.stringify(displayPlan(plan, token), null, 2) + '\n', { mode: 0o600 });
    if (plan.services.some((p) => p.dashboard)) writeDashboardToken(layout.dashboardTokenFile);
    // Moat's own nats-server: its config (listen address, store, one nkey user per process) and the users' seeds.
    if (plan.services.some((p) => p.role === 'nats')) natsSeeds.set(plan, prepareNatsAuth(plan, layout));
    upStep('plan made');
    await connecting;
    upStep('pm2 daemon answered');
    // On a NATS other chains may share, the stream is claimed for this machine and state directory.
    const owner = ctx.loaded.config.events.nats_url ? ownerOf(layout.stateDir) : undefined;
    // Nothing but ingress needs another process at start: hops connect to their next process on the first
    // request (a link reads the CA of an intercepting hop then too) and publish to NATS once it is there, so
    // they start with nats-server; the ledger writer, the dashboard and the metrics process follow NATS; ingress,
    // the agent's only way in, opens once everything accepts.
    const ingress = plan.processes.find((p) => p.role === 'ingress')!;
    const natsReady = startNats(plan, layout, session, natsBinary, owner, onReady, ctx.loaded.config.events.replicas);
    // On a shared NATS the stream's claim is checked first: a hop's spool could otherwise land in the stream of a
    // same-named chain elsewhere before `up` refuses (MOAT_ERR_CHAIN_NAME_TAKEN).
    if (owner) await natsReady;
    const services = natsReady.then(() =>
      allOrFirstFailure(
        plan.services
          .filter((p) => p.role !== 'nats')
          .map((p) => startAndWait(plan, layout, session, p, natsBinary, grantKeys, onReady)),
      ),
    );
    // pm2 starts apps one after another: third-party hops are asked for first, as they take longest to be ready
    // (mitmdump, Python, in namespaces of its own behind two small Node processes).
    const fromEgress = [...plan.processes].reverse().filter((p) => p !== ingress);
    const starting = new Map<PlannedProcess, Promise<void>>();
    for (const p of [...fromEgress].sort((a, b) => Number(b.role === 'third-party') - Number(a.role === 'third-party')))
      starting.set(p, startAndWait(plan, layout, session, p, natsBinary, grantKeys, onReady, upstreamCredentials));
    const hops = fromEgress.map((p) => starting.get(p)!);
    // Of several failures, the first in start order (NATS, the services, then the hops from egress back) is reported.
    await allOrFirstFailure([services, ...hops]);
    upStep('every hop accepts');
    await startAndWait(plan, layout, session, ingress, natsBinary, grantKeys, onReady);
    upStep('ingress accepts');
    // pm2's daemon makes its sockets 0775 after binding them, whatever the umask (lib/Daemon.js).
    makeTreePrivate(layout.pm2Home);
    return { plan, session };
  } catch (err) {
    upStep(`failed: ${(err as Error).message.split('\n')[0]}`);
    await connecting.catch(() => undefined);
    await abandon(layout, session);
    upStep('cleaned up');
    throw err;
  }
}

/**
 * `up`'s steps with their time, appended to the file MOAT_UP_TRACE names (none by default): `up` has three times been
 * seen to say nothing for a minute under CI's load, and this tells where it was (test/helpers/cli-chain.ts reads it).
 */
function upStep(name: string): void {
  const file = process.env.MOAT_UP_TRACE;
  if (!file) return;
  try {
    // 0600 when it makes it: the first steps come before `up` makes the state private (its umask).
    appendFileSync(file, `${Math.round(performance.now())} ms: ${name}\n`, { mode: 0o600 });
  } catch {
    // a trace that cannot be written changes nothing
  }
}

/**
 * After a failed `up`: a daemon that answers every call stops its apps; one that left a call unanswered is killed
 * (asking it would wait as long again: `up` said nothing for over a minute once, its error held behind the cleanup),
 * found by its title rather than its pid file, and what it had started is found by its PM2_HOME and stopped.
 */
async function abandon(layout: StateLayout, session: Pm2Session): Promise<void> {
  if (session.answered) {
    await stopDaemon(session).catch(() => undefined);
  } else {
    await stopProcesses(chainDaemons(layout.pm2Home), 500);
    await Promise.race([session.disconnect(), new Promise((r) => setTimeout(r, 1000).unref())]);
    // Else `status` would take the pid file for a daemon that died.
    rmSync(join(layout.pm2Home, 'pm2.pid'), { force: true });
  }
  await stopProcesses(chainProcesses(layout.pm2Home));
}

/** Waits for every promise; rejects with the first failure in the given order (not the first in time). */
async function allOrFirstFailure(starting: Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(starting);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Ports the configuration fixes must be free before anything starts. */
async function checkFixedPorts(ctx: ChainContext): Promise<void> {
  const fixedPort = ctx.loaded.config.ingress.port;
  if (fixedPort && (await accepts(fixedPort))) {
    throw new MoatError(
      'MOAT_ERR_PORT_IN_USE',
      `${ctx.loaded.where(['ingress', 'port'])}: ingress.port: 127.0.0.1:${fixedPort} is already in use by ` +
        `another program; choose another port or 0 for a free one`,
    );
  }
  const metricsPort = ctx.loaded.config.telemetry.metrics_port;
  if (metricsPort && (await accepts(metricsPort))) {
    throw new MoatError(
      'MOAT_ERR_PORT_IN_USE',
      `${ctx.loaded.where(['telemetry', 'metrics_port'])}: telemetry.metrics_port: 127.0.0.1:${metricsPort} ` +
        `is already in use by another program; choose another port or 0 for a free one`,
    );
  }
  const dashboard = ctx.loaded.config.dashboard;
  if (dashboard.enabled && dashboard.port && (await accepts(dashboard.port))) {
    throw new MoatError(
      'MOAT_ERR_PORT_IN_USE',
      `${ctx.loaded.where(['dashboard', 'port'])}: dashboard.port: 127.0.0.1:${dashboard.port} is already in ` +
        `use by another program; choose another port or 0 for a free one`,
    );
  }
}

/** nats-server (when moat runs its own) and the chain's stream, which every other process publishes to. */
async function startNats(
  plan: Plan,
  layout: StateLayout,
  session: Pm2Session,
  natsBinary: string | undefined,
  owner: string | undefined,
  onReady: UpProgress,
  replicas?: number,
): Promise<void> {
  if (!plan.centralLedger) ensureLedgerKey(layout.ledgerFile);
  const nats = plan.services.find((p) => p.role === 'nats');
  if (!nats) return createStream(plan, owner, replicas);
  const started = Date.now();
  await session.start(appFor(plan, layout, nats, natsBinary));
  if (!(await waitForPort(nats.port, READY_TIMEOUT_MS))) {
    throw new MoatError(
      'MOAT_ERR_NATS',
      `nats-server did not accept connections on 127.0.0.1:${nats.port}; its log:\n${tail(logFile(layout, nats), 15)}`,
    );
  }
  await createStream(plan, owner, replicas);
  upStep('nats-server accepts, stream made');
  onReady({ process: nats, ms: Date.now() - started });
}

/**
 * Starts one process under pm2 and waits until it accepts connections (a service without a port: until pm2 spawned it).
 */
async function startAndWait(
  plan: Plan,
  layout: StateLayout,
  session: Pm2Session,
  p: PlannedProcess,
  natsBinary: string | undefined,
  grantKeys: readonly string[],
  onReady: UpProgress,
  upstreamCredentials?: string,
): Promise<void> {
  const started = Date.now();
  const isService = plan.services.includes(p);
  await session.start(
    isService
      ? appFor(plan, layout, p, natsBinary)
      : appFor(plan, layout, p, undefined, grantKeys, upstreamCredentials),
  );
  // A service with a port (the dashboard, moat-telemetry's /metrics) is ready once it accepts: `up` prints the address.
  const mustListen = !isService || p.port > 0;
  if (mustListen && !(await waitForPort(p.port, READY_TIMEOUT_MS))) {
    const what = isService ? `the ${p.name} process` : `hop ${p.hop} (${p.name})`;
    throw new MoatError(
      'MOAT_ERR_HOP_NOT_READY',
      `${what} did not accept connections on 127.0.0.1:${p.port} within ${READY_TIMEOUT_MS / 1000} s; its ` +
        `log:\n${tail(logFile(layout, p), 15)}`,
    );
  }
  upStep(`${p.name} (${p.role}${p.hop >= 0 ? `, hop ${p.hop}` : ''}) ${mustListen ? 'accepts' : 'started'}`);
  onReady({ process: p, ms: Date.now() - started });
}

async function createStream(plan: Plan, owner: string | undefined, replicas?: number): Promise<void> {
  let nc: NatsConnection | undefined;
  try {
    const seed = natsSeeds.get(plan)?.[ADMIN_USER];
    nc = await nats().connect({
      ...natsConnection(plan.natsUrl, seed ? { natsUser: ADMIN_USER, natsSeed: seed } : undefined),
      timeout: 5000,
    });
    const stream = await ensureStream(nc, plan.chain, owner, replicas);
    if (stream.note) plan.warnings.push(stream.note);
  } catch (err) {
    if (err instanceof MoatError) throw err;
    throw new MoatError(
      'MOAT_ERR_NATS',
      `cannot set up the event stream on ${redactNatsUrl(plan.natsUrl)}: ${(err as Error).message}`,
    );
  } finally {
    await nc?.close();
  }
}

async function stopDaemon(session: Pm2Session): Promise<void> {
  try {
    await session.killDaemon();
  } finally {
    await session.disconnect();
  }
}

/** Stops every process and the pm2 daemon; returns false when nothing was running. */
export async function down(layout: StateLayout, session?: Pm2Session): Promise<boolean> {
  const pid = daemonPid(layout);
  const died = pid === undefined ? deadDaemonPid(layout) : undefined;
  if (pid !== undefined) {
    const s = session ?? new Pm2Session(layout.pm2Home);
    if (!session) await s.connect();
    await stopDaemon(s);
    // killDaemon answers before the daemon has exited; wait so `down` means nothing is left.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
  }
  // Whatever the daemon did not stop (it died, or was restarting an app as it went) is found by its PM2_HOME.
  const orphans = await stopProcesses(chainProcesses(layout.pm2Home));
  if (pid === undefined && orphans.length === 0 && died === undefined) return false;
  rmSync(layout.tokenFile, { force: true });
  rmSync(layout.linksDir, { recursive: true, force: true });
  rmSync(layout.dashboardTokenFile, { force: true });
  rmSync(layout.egressSecretsFile, { force: true });
  // A daemon that died left its pid file: gone with it, `status` says the chain is not running (not that it died).
  if (died !== undefined) rmSync(join(layout.pm2Home, 'pm2.pid'), { force: true });
  return true;
}

export interface StatusRow {
  /** -1 for the chain's services (nats-server, ledger writer, dashboard, metrics). */
  hop: number;
  name: string;
  role: string;
  pid: number | null;
  port: number;
  state: string;
  restarts: number;
  uptime_s: number | null;
  /** The metrics process's row (with moat-telemetry): where Prometheus scrapes it. */
  metrics_url?: string;
  /** The dashboard's row: its address with the token. */
  url?: string;
  /** The ledger writer's row: whether it stores events (ledger/health.ts). */
  health?: LedgerHealth;
  /** Egress's row with egress.upstream_proxy: the corporate proxy's host:port (never its credentials). */
  upstream_proxy?: string;
}

/** status's rows: every planned process beside what pm2 says of it (the dashboard shows the same). */
export function statusRows(plan: Plan, live: readonly Pm2Process[], now = Date.now()): StatusRow[] {
  const byName = new Map(live.map((p) => [p.name, p]));
  return [...(plan.services ?? []), ...plan.processes].map((p) => {
    const found = byName.get(pm2Name(plan, p));
    return {
      hop: p.hop,
      name: p.name,
      role: p.role,
      pid: found?.pid || null,
      port: p.port,
      state: found?.status ?? 'missing',
      restarts: found?.restarts ?? 0,
      uptime_s: found && found.status === 'online' ? Math.round((now - found.uptimeStart) / 1000) : null,
    };
  });
}

/** The dashboard's address with its token, while the chain runs one. */
export function dashboardAddress(layout: StateLayout, plan: Plan): string | undefined {
  const p = (plan.services ?? []).find((s) => s.role === 'dashboard');
  if (!p || !existsSync(layout.dashboardTokenFile)) return undefined;
  return dashboardUrl(p.port, readFileSync(layout.dashboardTokenFile, 'utf8').trim());
}

export async function status(layout: StateLayout): Promise<StatusRow[]> {
  const plan = readRunningPlan(layout);
  const session = new Pm2Session(layout.pm2Home);
  await session.connect();
  try {
    const url = dashboardAddress(layout, plan);
    const health = readLedgerHealth(plan.services.find((p) => p.ledger)?.ledger?.healthFile);
    return statusRows(plan, await session.list()).map((r) => {
      if (r.role === 'dashboard' && url) return { ...r, url };
      if (r.role === 'ledger' && health) return { ...r, health };
      if (r.role === 'metrics' && plan.metricsUrl) return { ...r, metrics_url: plan.metricsUrl };
      if (r.role === 'egress' && plan.upstreamProxy) return { ...r, upstream_proxy: plan.upstreamProxy };
      return r;
    });
  } finally {
    await session.disconnect();
  }
}

export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log yet)';
  const all = readFileSync(file, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

export function currentToken(layout: StateLayout): string {
  const token = readToken(layout);
  if (!token) throw new MoatError('MOAT_ERR_NOT_UP', 'chain is not running (no token); start it with `moat chain up`');
  return token;
}
