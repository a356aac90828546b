// `moat chain <command>`: thin entry points over supervisor/chain/lifecycle.ts. Errors the user can
// act on are printed as one message with a stable code, never as a stack trace.
import { grantMain } from './grants/command';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { findingsCommand } from './findings/findings-command';
import { MoatError } from './errors';
import {
  chainContext,
  makePlan,
  up,
  down,
  status,
  readRunningPlan,
  currentToken,
  logFile,
  tail,
  pm2Name,
  dashboardAddress,
  daemonPid,
  type ChainContext,
} from './chain/lifecycle';
import { daemonDiedError } from './chain/daemon-death';
import { displayPlan, type Plan } from './chain/plan';
import { stateLayout, moatHome } from './chain/state';
import { ensureCa } from './chain/ca';
import { agentEnv, exportLines, transparentEnv } from './commands/env';
import { runTransparent } from './transparent/run';
import { copyTrust } from './transparent/agent-files';
import { coveredPaths } from './transparent/covered-paths';
import { table } from './commands/table';
import { tap, queryEvents, eventLines, verifyChainLedger, describeVerify, type HeadLookup } from './ledger/commands';
import { natsHeadLookup, unavailableLookup } from './ledger/head-lookup';
import { supervisorNatsIdentity } from './chain/nats-credentials';
import { SUBJECTS } from '../hops/events/subjects';
import { TELEMETRY_HOP } from '../hops/builtin-hops';
import { exportChainLedger, verifyBundleFile } from './ledger/bundle-commands';
import { writeStarterConfig } from './commands/init';
import { DEFAULT_CONFIG_FILE } from './config/load';
import { importAgentreserve } from './commands/policy-import';
import { replayTrace } from './commands/replay-command';
import { formatReplay } from './commands/replay';
import { bisectTrace } from './commands/bisect-command';
import { formatBisect } from './commands/bisect';
import { learnPolicyFromLedger } from './commands/policy-learn-command';
import { redactNatsUrl } from '../hops/events/nats-url';
import { describeLedgerHealth } from './ledger/health';
import { lookAtStream } from './ledger/stream-look';
import { ledgerMain } from './ledger/cli';
import { cacheReport, formatCacheReport } from './commands/cache-report';

const USAGE = `usage: moat chain <command> [options]

commands:
  init                   write a commented starter moat.yaml (never overwrites)
  plan [--json]          show the resolved chain (hops, ports, upstreams, env); starts nothing
  up [-d]                start the chain; stays in the foreground streaming hop logs (-d: detach)
  down                   stop every process of the chain and its pm2 daemon
  status [--json]        every process with hop, name, pid, port, state, restarts, uptime;
                         the dashboard's address; the ledger's health (exit 1 while it fails)
  env                    export lines that send an agent through the chain
  run -- CMD [ARGS...]   run CMD with that environment; exits with its exit code
  run --transparent -- CMD [ARGS...]
                         run CMD in a network namespace of its own whose HTTP(S) goes through the
                         chain with no proxy settings (Linux; root or user namespaces)
  logs N [--lines K] [--json]
                         output of hop N (0 is ingress, N+1 egress)
  tap N [--json] [--history K] [--count K]
                         live: what went into hop N and what came out, per request
  events [--trace ID] [--hop N] [--host H] [--decision D] [--json]
                         events from the ledger
  verify                 check the ledger's hash chain and signed checkpoints
  findings [--since DURATION] [--sarif FILE | --json]
                         denials, DLP blocks (the detector, never the secret), would-deny in report
                         mode, budgets spent and hop failures from the ledger: a table, a JSON list,
                         or a SARIF 2.1.0 file for code-scanning
  cache [--json]         per hop: provider requests whose cacheable prompt prefix it changed, and
                         the cost of the cache writes that followed against the same as reads
  replay TRACE [--from-hop K] [--skip-hop N] [--json]
                         send a recorded request again into hop K (default 1) and show how the
                         response differs from the recorded one (needs capture.bodies redacted/full);
                         --skip-hop N: hop N's link sends it straight on (never a policy hop)
  bisect TRACE [--json]  replay the request with each hop skipped in turn: which hop's absence
                         changes the outcome (status, error, a body field or stream event, a
                         mark: cache_prefix_changed, stream_buffered, stream_changed)
  export FILE [--force]  write the ledger as one self-contained bundle (--force: replace FILE)
  verify FILE [--key PUBKEY.pem]
                         check a bundle offline, needing nothing but FILE; without --key the
                         bundle's own key is trusted (only --key catches a full re-sign)
  ca [--json]            path and SHA-256 fingerprint of the Moat CA
  policy import FILE [--json]
                         convert an @agentreserve/proxy config to moat.yaml's policy: section
                         (printed; warnings where agentreserve behaves otherwise)
  policy learn [--since DURATION] [--json]
                         a policy: section allowing exactly the traffic in the ledger (hosts,
                         paths with varying ids as *, MCP tools), then deny-all; for review

options:
  -f FILE                configuration file (default: moat.yaml)
  --json                 machine-readable output

central ledgers (events.ledger: central): moat ledger serve | verify | events | release (moat ledger --help)
keys for grants: kept encrypted: moat grant add | list | rm (moat grant --help)`;

interface Args {
  command: string;
  positional: string[];
  file?: string;
  json: boolean;
  detach: boolean;
  lines: number;
  history: number;
  count?: number;
  trace?: string;
  hop?: number;
  host?: string;
  decision?: string;
  force: boolean;
  key?: string;
  fromHop?: number;
  skipHop?: number;
  since?: string;
  sarif?: string;
  transparent: boolean;
  rest: string[];
}

export function parseArgs(argv: string[]): Args {
  const args: Args = {
    command: '',
    positional: [],
    json: false,
    detach: false,
    lines: 50,
    history: 0,
    force: false,
    transparent: false,
    rest: [],
  };
  if (argv[0] !== 'chain') throw new MoatError('MOAT_ERR_USAGE', `unknown command "${argv[0] ?? ''}"\n\n${USAGE}`);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.rest = argv.slice(i + 1);
      break;
    }
    if (a === '-f' || a === '--file') args.file = need(argv, ++i, a);
    else if (a === '--json') args.json = true;
    else if (a === '-d' || a === '--detach') args.detach = true;
    else if (a === '--lines') args.lines = Number(need(argv, ++i, a));
    else if (a === '--history') args.history = Number(need(argv, ++i, a));
    else if (a === '--count') args.count = Number(need(argv, ++i, a));
    else if (a === '--trace') args.trace = need(argv, ++i, a);
    else if (a === '--hop') args.hop = Number(need(argv, ++i, a));
    else if (a === '--host') args.host = need(argv, ++i, a);
    else if (a === '--decision') args.decision = need(argv, ++i, a);
    else if (a === '--force') args.force = true;
    else if (a === '--key') args.key = need(argv, ++i, a);
    else if (a === '--from-hop') args.fromHop = Number(need(argv, ++i, a));
    else if (a === '--skip-hop') args.skipHop = Number(need(argv, ++i, a));
    else if (a === '--since') args.since = need(argv, ++i, a);
    else if (a === '--sarif') args.sarif = need(argv, ++i, a);
    else if (a === '--transparent') args.transparent = true;
    else if (a === '-h' || a === '--help') args.command = 'help';
    else if (a.startsWith('-')) throw new MoatError('MOAT_ERR_USAGE', `unknown option "${a}"\n\n${USAGE}`);
    else if (!args.command) args.command = a;
    else args.positional.push(a);
  }
  return args;
}

function need(argv: string[], i: number, flag: string): string {
  if (argv[i] === undefined) throw new MoatError('MOAT_ERR_USAGE', `${flag} needs a value`);
  return argv[i];
}

const hopLabel = (hop: number) => (hop < 0 ? '-' : String(hop));
const print = (text: string): void => void process.stdout.write(text + '\n');

const upstreamProxyLine = (proxy: string): string =>
  `egress: through the upstream proxy ${proxy} (egress.upstream_proxy; hosts in its bypass and egress.resolve go direct)`;

function printPlan(plan: Plan, json: boolean): void {
  if (json) return print(JSON.stringify(plan, null, 2));
  print(`chain ${plan.chain} (${plan.configFile}): ${plan.processes.length} processes; state in ${plan.stateDir}`);
  const services = plan.services.map((p) => [
    '-',
    p.name,
    p.role,
    p.port || null,
    p.role === 'nats' ? '(events)' : plan.natsUrl,
  ]);
  print(
    table(
      ['hop', 'name', 'role', 'port', 'forwards to'],
      [...services, ...plan.processes.map((p) => [p.hop, p.name, p.role, p.port, p.forwardsTo])],
    ),
  );
  if (plan.metricsUrl) print(`metrics: ${plan.metricsUrl} (${TELEMETRY_HOP})`);
  if (plan.upstreamProxy) print(upstreamProxyLine(plan.upstreamProxy));
  for (const p of plan.processes.filter((x) => x.command)) {
    print(`\nhop ${p.hop} ${p.name}: ${p.command!.join(' ')}`);
    if (p.isolation === 'netns')
      print(
        `  isolation: netns (own network namespace; its connections to ports 443 and 80 go into ` +
          `${p.forwardsTo} with that link's credential, nothing else leaves)`,
      );
    for (const [k, v] of Object.entries(p.env ?? {})) print(`  ${k}=${v}`);
  }
}

async function cmdPolicyLearn(args: Args): Promise<number> {
  const ctx = chainContext(args.file);
  refuseCentralLedger(ctx, 'policy learn');
  const learned = await learnPolicyFromLedger(ctx.layout, args.since);
  if (args.json) print(JSON.stringify({ policy: { mode: 'enforce', rules: learned.rules }, notes: learned.notes }));
  else process.stdout.write(learned.yaml);
  return 0;
}

function cmdPolicy(args: Args): number | Promise<number> {
  const [sub, file] = args.positional;
  if (sub === 'learn') return cmdPolicyLearn(args);
  if (sub !== 'import' || !file)
    throw new MoatError(
      'MOAT_ERR_USAGE',
      'usage: moat chain policy import AGENTRESERVE.yaml [--json] | policy learn [--since DURATION] [--json]',
    );
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MoatError(
      'MOAT_ERR_FILE_UNREADABLE',
      `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  const imported = importAgentreserve(text, file);
  if (args.json) print(JSON.stringify({ policy: imported.policy, warnings: imported.warnings }, null, 2));
  else process.stdout.write(imported.yaml);
  printWarnings(imported.warnings);
  return 0;
}

function printWarnings(warnings: string[] = []): void {
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
}

async function cmdUp(ctx: ChainContext, args: Args): Promise<number> {
  // With --json: one JSON object per process as it becomes ready, then one for the chain (JSON lines).
  const { plan, session } = await up(ctx, ({ process: p, ms }) =>
    print(
      args.json
        ? JSON.stringify({ ready: { hop: p.hop, name: p.name, role: p.role, port: p.port || null, ms } })
        : `ready  hop ${hopLabel(p.hop).padEnd(2)} ${p.name.padEnd(20)} ${p.role.padEnd(11)} ` +
            `${p.port ? `127.0.0.1:${p.port}` : '(no port)'}  ${ms} ms`,
    ),
  );
  printWarnings(plan.warnings);
  const dashboard = dashboardAddress(ctx.layout, plan);
  if (args.json)
    print(
      JSON.stringify({
        up: {
          chain: plan.chain,
          ingress_port: plan.ingressPort,
          metrics_url: plan.metricsUrl ?? null,
          detached: args.detach,
          warnings: plan.warnings,
          dashboard: dashboard ?? null,
        },
      }),
    );
  else {
    print(`\nchain ${plan.chain} is up: agent proxy 127.0.0.1:${plan.ingressPort}`);
    if (dashboard) print(`dashboard: ${dashboard}`);
    if (plan.metricsUrl) print(`metrics: ${plan.metricsUrl} (${TELEMETRY_HOP}, Prometheus)`);
    print('next:  moat chain run -- curl https://api.anthropic.com/v1/models');
    print('       eval "$(moat chain env)"   # then start your agent');
  }
  if (args.detach) {
    await session.disconnect();
    if (!args.json) print('detached; stop it with `moat chain down`');
    return 0;
  }
  print('streaming hop logs; Ctrl-C stops the chain\n');
  const names = new Map(plan.processes.map((p) => [pm2Name(plan, p), `${p.hop}:${p.name}`]));
  await session.onLog((app, line, stream) => {
    for (const l of line.replace(/\n$/, '').split('\n'))
      (stream === 'err' ? process.stderr : process.stdout).write(`[${names.get(app) ?? app}] ${l}\n`);
  });
  return new Promise((resolve) => {
    // The daemon gone: stopped by `moat chain down` elsewhere, or died (its processes exit with it). Say which and
    // end, rather than stream nothing for ever.
    const watch = setInterval(() => {
      if (daemonPid(ctx.layout) !== undefined) return;
      clearInterval(watch);
      const died = daemonDiedError(ctx.layout);
      if (!died) {
        print('\nchain stopped (moat chain down)');
        return resolve(0);
      }
      process.stderr.write(`moat: ${died.message}\n(${died.code})\n`);
      resolve(1);
    }, 1000);
    watch.unref();
    const stop = () => {
      clearInterval(watch);
      print('\nstopping chain...');
      down(ctx.layout, session).then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function cmdRun(ctx: ChainContext, args: Args): Promise<number> {
  if (args.rest.length === 0)
    throw new MoatError(
      'MOAT_ERR_USAGE',
      'run needs a command after --, e.g. moat chain run -- curl https://api.anthropic.com/v1/models',
    );
  const plan = readRunningPlan(ctx.layout);
  if (args.transparent) {
    // The agent reads its own copy of the CA: MOAT_HOME and pm2's home are covered in its namespace.
    const token = currentToken(ctx.layout);
    const trust = copyTrust(ctx.layout);
    try {
      const env = transparentEnv(process.env, trust, plan.placeholders);
      return await runTransparent({
        command: args.rest,
        env,
        ingressPort: plan.ingressPort,
        token,
        cover: coveredPaths(ctx.layout),
        removeAtExit: trust.dir,
      });
    } finally {
      trust.remove();
    }
  }
  const env = {
    ...process.env,
    ...agentEnv(ctx.layout, plan.ingressPort, currentToken(ctx.layout), plan.placeholders, process.env.NODE_OPTIONS),
  };
  return new Promise((resolve) => {
    const child = spawn(args.rest[0], args.rest.slice(1), { env, stdio: 'inherit' });
    child.on('error', (err) => {
      process.stderr.write(`moat: cannot run ${args.rest[0]}: ${err.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 1 : 1)));
  });
}

async function cmdExport(ctx: ChainContext, args: Args): Promise<number> {
  const file = args.positional[0];
  if (!file)
    throw new MoatError('MOAT_ERR_USAGE', 'export needs a file to write, e.g. moat chain export ledger-bundle.json');
  const s = await exportChainLedger(ctx.layout, ctx.loaded.config.name, file, args.force);
  print(`exported chain ${ctx.loaded.config.name}: ${s.rows} rows, ${s.checkpoints} signed checkpoints to ${s.file}`);
  return 0;
}

/** The chain's own head in NATS while the chain is up (its nats-server, or events.nats_url); else not checked. */
function chainHeadLookup(ctx: ChainContext): HeadLookup {
  const chain = ctx.loaded.config.name;
  let plan: Plan;
  try {
    plan = readRunningPlan(ctx.layout);
  } catch {
    return unavailableLookup(chain, SUBJECTS.ledgerConsumer, 'the chain is not up');
  }
  return natsHeadLookup(
    ctx.loaded.config.events.nats_url ?? plan.natsUrl,
    supervisorNatsIdentity(plan, ctx.layout),
    chain,
    SUBJECTS.ledgerConsumer,
  );
}

/** Where the running chain's stream is (replicas, the servers holding it): its own nats-server, or events.nats_url. */
async function chainStreamLook(ctx: ChainContext) {
  const plan = readRunningPlan(ctx.layout);
  const url = ctx.loaded.config.events.nats_url ?? plan.natsUrl;
  return lookAtStream(url, supervisorNatsIdentity(plan, ctx.layout), ctx.loaded.config.name);
}

/** plan's lines on the stream: the replicas asked for and, on a shared NATS that answers, where it is now. */
async function planStreamLines(ctx: ChainContext): Promise<string> {
  const { name, events } = ctx.loaded.config;
  const stream = SUBJECTS.stream(name);
  if (!events.nats_url) return `events: stream ${stream} on the chain's own nats-server (1 replica)`;
  const asked =
    events.replicas !== undefined
      ? `${events.replicas} replica${events.replicas === 1 ? '' : 's'} (events.replicas)`
      : '3 replicas on a cluster of three servers or more, else 1 (the default; events.replicas sets it)';
  const now = await lookAtStream(events.nats_url, undefined, name);
  return `events: stream ${stream} on ${redactNatsUrl(events.nats_url)}, ${asked}\n  now: ${now.line}`;
}

/** `verify FILE` needs no config and no state: it runs before the config is loaded. */
function cmdVerifyBundle(args: Args): number {
  const file = args.positional[0];
  const { result, key, pinned } = verifyBundleFile(file, args.key);
  if (args.json) print(JSON.stringify({ ...result, key, keyPinned: pinned }));
  if (!result.ok) throw new MoatError('MOAT_ERR_LEDGER_TAMPERED', describeVerify(file, result));
  if (!args.json)
    print(
      `${describeVerify(file, result)}; key ${key} ` +
        `${pinned ? `pinned by --key ${args.key}` : "is the bundle's own (pin it with --key)"}`,
    );
  return 0;
}

function cmdLogs(ctx: ChainContext, args: Args): number {
  const hop = Number(args.positional[0]);
  const plan = readRunningPlan(ctx.layout);
  const procs = plan.processes.filter((p) => p.hop === hop);
  if (!Number.isInteger(hop) || procs.length === 0) {
    const max = plan.processes[plan.processes.length - 1].hop;
    throw new MoatError(
      'MOAT_ERR_USAGE',
      `logs needs a hop number from 0 (ingress) to ${max} (egress), got "${args.positional[0] ?? ''}"`,
    );
  }
  // moat-telemetry's /metrics and OTLP run in a process of their own: its log follows the hop's.
  if (procs.some((p) => p.role === 'builtin' && p.name === TELEMETRY_HOP))
    procs.push(...plan.services.filter((s) => s.role === 'metrics'));
  for (const p of procs) {
    const file = logFile(ctx.layout, p);
    if (args.json) {
      const text = existsSync(file) ? tail(file, args.lines) : '';
      print(
        JSON.stringify({ hop: p.hop, name: p.name, role: p.role, file, lines: text === '' ? [] : text.split('\n') }),
      );
      continue;
    }
    print(`==> ${p.hop >= 0 ? `hop ${p.hop} ` : ''}${p.name} (${p.role}): ${file}`);
    print(tail(file, args.lines));
  }
  return 0;
}

/** Commands that read the chain's ledger: on a chain whose ledger is central, say where it is instead. */
const LEDGER_READERS = new Set(['verify', 'events', 'export', 'replay', 'cache', 'bisect', 'findings']);

function refuseCentralLedger(ctx: ChainContext, command: string): void {
  const { name, events } = ctx.loaded.config;
  if (events.ledger !== 'central') return;
  throw new MoatError(
    'MOAT_ERR_LEDGER_CENTRAL',
    `chain "${name}" keeps its ledger centrally (${ctx.loaded.where(['events', 'ledger'])}: events.ledger: ` +
      `central): \`moat ledger serve\` writes it from ${redactNatsUrl(events.nats_url!)}. Run \`moat ledger ` +
      `${command === 'events' ? 'events' : 'verify'} --dir DIR --chain ${name}\` where serve runs (DIR is its ` +
      `--dir)`,
  );
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'ledger') return ledgerMain(argv.slice(1));
  if (argv[0] === 'grant') return grantMain(argv.slice(1));
  const args = parseArgs(argv);
  if (args.command === 'help' || args.command === '') {
    print(USAGE);
    return args.command === 'help' ? 0 : 2;
  }
  if (args.command === 'ca') {
    const info = ensureCa(stateLayout('default', moatHome()));
    if (args.json) print(JSON.stringify(info, null, 2));
    else
      print(
        `${info.certFile}\nSHA-256 ${info.fingerprint}${info.created ? '\n(created now)' : ''}\ntrust bundle ` +
          `(system roots + Moat CA): ${info.bundleFile}`,
      );
    return 0;
  }
  if (args.command === 'verify' && args.positional.length > 0) return cmdVerifyBundle(args);
  if (args.command === 'policy') return cmdPolicy(args);
  if (args.command === 'init') {
    const file = args.file ?? DEFAULT_CONFIG_FILE;
    writeStarterConfig(file);
    print(
      args.json
        ? JSON.stringify({ wrote: file })
        : `wrote ${file}; check it with \`moat chain plan\`, start it with \`moat chain up\``,
    );
    return 0;
  }
  if (args.key !== undefined)
    throw new MoatError(
      'MOAT_ERR_USAGE',
      '--key goes with `verify FILE`: it pins the key a bundle must be signed with',
    );
  if (args.transparent && args.command !== 'run')
    throw new MoatError('MOAT_ERR_USAGE', '--transparent goes with `run`: moat chain run --transparent -- CMD');
  const ctx = chainContext(args.file);
  if (LEDGER_READERS.has(args.command) || (args.command === 'tap' && args.history > 0))
    refuseCentralLedger(ctx, args.command);
  switch (args.command) {
    case 'plan': {
      // A throw-away token (shown as ***): a fixed word such as TOKEN would also mask names like GITHUB_TOKEN.
      const token = randomBytes(32).toString('hex');
      const plan = await makePlan(ctx, token);
      printPlan(displayPlan(plan, token), args.json);
      if (!args.json) print(await planStreamLines(ctx));
      printWarnings(plan.warnings);
      if (!args.json) print('\n(ports are free now; `up` chooses its own at start)');
      return 0;
    }
    case 'up':
      return cmdUp(ctx, args);
    case 'down': {
      const stopped = await down(ctx.layout);
      if (args.json) print(JSON.stringify({ chain: ctx.loaded.config.name, stopped }));
      else
        print(stopped ? `chain ${ctx.loaded.config.name} stopped` : `chain ${ctx.loaded.config.name} was not running`);
      return 0;
    }
    case 'status': {
      const rows = await status(ctx.layout);
      // A ledger writer that cannot store events (its stream vanished, NATS away) fails status, as a process down would
      // not.
      const ledger = rows.find((r) => r.health)?.health;
      // A stream that does not answer (its servers down) stores no event, whoever writes the ledger: status fails too.
      const look = await chainStreamLook(ctx);
      if (args.json) print(JSON.stringify(rows, null, 2));
      else {
        print(
          table(
            ['hop', 'name', 'role', 'pid', 'port', 'state', 'restarts', 'uptime'],
            rows.map((r) => [
              hopLabel(r.hop),
              r.name,
              r.role,
              r.pid,
              r.port,
              r.state,
              r.restarts,
              r.uptime_s === null ? null : `${r.uptime_s}s`,
            ]),
          ),
        );
        for (const r of rows.filter((x) => x.upstream_proxy)) print(`\n${upstreamProxyLine(r.upstream_proxy!)}`);
        for (const r of rows.filter((x) => x.metrics_url)) print(`\nmetrics: ${r.metrics_url} (${TELEMETRY_HOP})`);
        const dashboard = rows.find((r) => r.url)?.url;
        if (dashboard) print(`\ndashboard: ${dashboard}`);
        const { events } = ctx.loaded.config;
        if (events.ledger === 'central')
          print(
            `\nledger: central, written by \`moat ledger serve\` from ${redactNatsUrl(events.nats_url!)} ` +
              `(read it there: moat ledger verify --dir DIR --chain ${ctx.loaded.config.name})`,
          );
        else if (ledger) print(`\nledger: ${describeLedgerHealth(ledger)}`);
        print(look.line);
      }
      return ledger?.state === 'failing' || look.problem ? 1 : 0;
    }
    case 'env': {
      const plan = readRunningPlan(ctx.layout);
      const env = agentEnv(
        ctx.layout,
        plan.ingressPort,
        currentToken(ctx.layout),
        plan.placeholders,
        process.env.NODE_OPTIONS,
      );
      print(args.json ? JSON.stringify(env, null, 2) : exportLines(env));
      return 0;
    }
    case 'run':
      return cmdRun(ctx, args);
    case 'logs':
      return cmdLogs(ctx, args);
    case 'tap':
      // plan.json shows the NATS URL without credentials: connect with the configured one.
      await tap(
        {
          ...readRunningPlan(ctx.layout),
          ...(ctx.loaded.config.events.nats_url ? { natsUrl: ctx.loaded.config.events.nats_url } : {}),
        },
        ctx.layout,
        Number(args.positional[0]),
        { json: args.json, history: args.history, count: args.count },
        print,
      );
      return 0;
    case 'events': {
      const events = await queryEvents(ctx.layout, {
        trace: args.trace,
        hop: args.hop,
        host: args.host,
        decision: args.decision,
      });
      for (const line of eventLines(events, args.json)) print(line);
      return 0;
    }
    case 'findings':
      print(
        await findingsCommand(ctx.layout, ctx.loaded.config.name, {
          since: args.since,
          sarif: args.sarif,
          json: args.json,
        }),
      );
      return 0;
    case 'cache': {
      const report = cacheReport(await queryEvents(ctx.layout, {}), ctx.loaded.config.prices ?? {});
      print(args.json ? JSON.stringify(report, null, 2) : formatCacheReport(report));
      return 0;
    }
    case 'export':
      return cmdExport(ctx, args);
    case 'replay': {
      const trace = args.positional[0];
      if (!trace)
        throw new MoatError('MOAT_ERR_USAGE', 'usage: moat chain replay TRACE [--from-hop K] [--skip-hop N] [--json]');
      const result = await replayTrace(ctx.layout, trace, args.fromHop ?? 1, args.skipHop);
      print(
        args.json
          ? JSON.stringify(result)
          : formatReplay(
              trace,
              result.replay_trace,
              result.from_hop,
              result.hop_name,
              result.diff,
              result.skip,
              result.marks,
            ),
      );
      printWarnings(result.warnings);
      return 0;
    }
    case 'bisect': {
      const trace = args.positional[0];
      if (!trace) throw new MoatError('MOAT_ERR_USAGE', 'usage: moat chain bisect TRACE [--json]');
      const report = await bisectTrace(ctx.layout, trace);
      print(args.json ? JSON.stringify(report) : formatBisect(report));
      return 0;
    }
    case 'verify': {
      const result = await verifyChainLedger(ctx.layout, ctx.loaded.config.name, { nats: chainHeadLookup(ctx) });
      if (args.json) print(JSON.stringify(result));
      if (!result.ok) throw new MoatError('MOAT_ERR_LEDGER_TAMPERED', describeVerify(ctx.layout.ledgerFile, result));
      if (!args.json) print(describeVerify(ctx.layout.ledgerFile, result));
      return 0;
    }
    default:
      throw new MoatError('MOAT_ERR_USAGE', `unknown command "chain ${args.command}"\n\n${USAGE}`);
  }
}

/** Prints an error the way users should see it and exits with its code. */
export function fail(err: unknown): never {
  if (err instanceof MoatError) {
    process.stderr.write(`moat: ${err.message}\n(${err.code})\n`);
    process.exit(err.code === 'MOAT_ERR_USAGE' ? 2 : 1);
  }
  const e = err as Error;
  process.stderr.write(
    `moat: internal error: ` +
      `${e?.message ?? err}\n${process.env.MOAT_DEBUG ? (e?.stack ?? '') : '(set MOAT_DEBUG=1 for details)'}\n`,
  );
  process.exit(70);
}

export function run(argv: string[]): void {
  main(argv).then((code) => process.exit(code), fail);
}

if (require.main === module) run(process.argv.slice(2));
