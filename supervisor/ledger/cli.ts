// `moat ledger <command>`: the central ledgers of chains with events.ledger: central. serve writes
// them; verify and events read them as `moat chain verify|events` read a chain's own.
import { nats } from '../nats-module';
import { MoatError } from '../errors';
import { serveLedgers } from './serve';
import { centralLedgerFile, chainsInDir, CHAIN_NAME, ledgerDirId } from './dir';
import { natsHeadLookup, unavailableLookup } from './head-lookup';
import { SUBJECTS } from '../../hops/events/subjects';
import { releaseClaim } from './stream';
import { verifyChainLedger, describeVerify, queryEvents, eventLines, type LedgerLocation } from './commands';
import { redactNatsUrl, natsConnection, natsUrlProblem } from '../../hops/events/nats-url';
import { parseSinkFlag } from '../findings/sink-spec';

export const LEDGER_USAGE = `usage: moat ledger <command> [options]

commands:
  serve --nats URL --dir DIR [--chains a,b | all] [--sink SPEC ...] [--sink-remote]
                         write one ledger per chain (DIR/<chain>/ledger.db) from the chains' streams on
                         NATS; picks up chains that appear later; stays in the foreground. --sink streams
                         every chain's findings as they are stored: syslog+udp://HOST:PORT,
                         syslog+tcp://HOST:PORT (RFC 5424) or jsonl:FILE; an address off this machine
                         needs --sink-remote
  verify --dir DIR [--chain NAME] [--nats URL] [--json]
                         check the hash chain and signed checkpoints of one chain's ledger (or of every
                         chain's in DIR), and that it still holds its newest signed head, kept in
                         DIR/<chain>/ledger-head.json and, with --nats, on that NATS
  events --dir DIR --chain NAME [--trace ID] [--hop N] [--host H] [--decision D] [--json]
                         events from a chain's central ledger
  release --nats URL --chain NAME
                         forget which machine chain NAME belongs to on that NATS, so a chain of that
                         name elsewhere can start (only when the old one is gone for good)

options:
  --nats URL             the shared NATS, or the servers of a NATS cluster as a comma-separated list
                         (nats://user:password@a:4222,nats://b:4222; serve reconnects to any of them)
                         (default: the environment variable MOAT_NATS_URL; prefer it for a URL with
                         credentials, which a command line shows to every user of the machine)`;

interface LedgerArgs {
  command: string;
  nats?: string;
  dir?: string;
  chain?: string;
  chains: 'all' | string[];
  json: boolean;
  trace?: string;
  hop?: number;
  host?: string;
  decision?: string;
  sinks: string[];
  sinkRemote: boolean;
}

export function parseLedgerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): LedgerArgs {
  const args: LedgerArgs = {
    command: '',
    chains: 'all',
    json: false,
    nats: env.MOAT_NATS_URL || undefined,
    sinks: [],
    sinkRemote: false,
  };
  const need = (i: number, flag: string) => {
    if (argv[i] === undefined) throw new MoatError('MOAT_ERR_USAGE', `${flag} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--nats') args.nats = need(++i, a);
    else if (a === '--dir') args.dir = need(++i, a);
    else if (a === '--chain') args.chain = chainName(need(++i, a), a);
    else if (a === '--chains') {
      const v = need(++i, a);
      args.chains = v === 'all' ? 'all' : v.split(',').map((c) => chainName(c.trim(), a));
    } else if (a === '--json') args.json = true;
    else if (a === '--trace') args.trace = need(++i, a);
    else if (a === '--hop') args.hop = Number(need(++i, a));
    else if (a === '--host') args.host = need(++i, a);
    else if (a === '--decision') args.decision = need(++i, a);
    else if (a === '--sink') args.sinks.push(need(++i, a));
    else if (a === '--sink-remote') args.sinkRemote = true;
    else if (a === '-h' || a === '--help') args.command = 'help';
    else if (a.startsWith('-')) throw new MoatError('MOAT_ERR_USAGE', `unknown option "${a}"\n\n${LEDGER_USAGE}`);
    else if (!args.command) args.command = a;
    else throw new MoatError('MOAT_ERR_USAGE', `unexpected "${a}"\n\n${LEDGER_USAGE}`);
  }
  // A server list as events.nats_url takes it; a bad one is named without repeating its credentials.
  const problem = args.nats === undefined ? undefined : natsUrlProblem(args.nats);
  if (problem) throw new MoatError('MOAT_ERR_USAGE', `--nats URL (or MOAT_NATS_URL): ${problem}`);
  return args;
}

function chainName(value: string, flag: string): string {
  if (!CHAIN_NAME.test(value))
    throw new MoatError(
      'MOAT_ERR_USAGE',
      `${flag}: "${value}" is not a chain name (lowercase letters, digits and -, at most 32, as name: in moat.yaml)`,
    );
  return value;
}

function required<T>(value: T | undefined, what: string, command: string): T {
  if (value === undefined)
    throw new MoatError('MOAT_ERR_USAGE', `moat ledger ${command} needs ${what}\n\n${LEDGER_USAGE}`);
  return value;
}

const print = (text: string): void => void process.stdout.write(text + '\n');

function location(dir: string, chain: string): LedgerLocation {
  return {
    ledgerFile: centralLedgerFile(dir, chain),
    madeBy: `\`moat ledger serve --dir ${dir}\` once chain ${chain} has published`,
  };
}

async function cmdServe(args: LedgerArgs): Promise<number> {
  const natsUrl = required(args.nats, '--nats URL (or MOAT_NATS_URL)', 'serve');
  const dir = required(args.dir, '--dir DIR', 'serve');
  const sinks = args.sinks.map((text) => {
    const spec = parseSinkFlag(text, args.sinkRemote, process.cwd());
    if (typeof spec === 'string') throw new MoatError('MOAT_ERR_USAGE', spec);
    return spec;
  });
  const server = await serveLedgers({ natsUrl, dir, chains: args.chains, log: print, sinks });
  return new Promise((resolve) => {
    const stop = () => {
      print('ledger serve: stopping (signing every head)');
      server.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function cmdVerify(args: LedgerArgs): Promise<number> {
  const dir = required(args.dir, '--dir DIR', 'verify');
  const chains = args.chain ? [args.chain] : chainsInDir(dir);
  if (chains.length === 0)
    throw new MoatError(
      'MOAT_ERR_NO_LEDGER',
      `${dir}: no chain's ledger here (moat ledger serve --dir ${dir} writes them)`,
    );
  const failed: string[] = [];
  for (const chain of chains) {
    const where = location(dir, chain);
    const key = SUBJECTS.centralLedgerConsumer(ledgerDirId(dir));
    const nats = args.nats
      ? natsHeadLookup(args.nats, undefined, chain, key)
      : unavailableLookup(chain, key, 'no --nats URL (or MOAT_NATS_URL) given');
    const result = await verifyChainLedger(where, chain, { nats });
    const line = `chain ${chain}: ${describeVerify(where.ledgerFile, result)}`;
    if (args.json) print(JSON.stringify({ chain, ...result }));
    else if (result.ok) print(line);
    if (!result.ok) failed.push(line);
  }
  if (failed.length) throw new MoatError('MOAT_ERR_LEDGER_TAMPERED', failed.join('\n'));
  return 0;
}

async function cmdEvents(args: LedgerArgs): Promise<number> {
  const dir = required(args.dir, '--dir DIR', 'events');
  const chain = required(args.chain, '--chain NAME', 'events');
  const events = await queryEvents(location(dir, chain), {
    trace: args.trace,
    hop: args.hop,
    host: args.host,
    decision: args.decision,
  });
  for (const line of eventLines(events, args.json)) print(line);
  return 0;
}

async function cmdRelease(args: LedgerArgs): Promise<number> {
  const natsUrl = required(args.nats, '--nats URL (or MOAT_NATS_URL)', 'release');
  const chain = required(args.chain, '--chain NAME', 'release');
  let nc;
  try {
    nc = await nats().connect({ ...natsConnection(natsUrl), timeout: 5000 });
  } catch (err) {
    throw new MoatError('MOAT_ERR_NATS', `cannot reach NATS at ${redactNatsUrl(natsUrl)}: ${(err as Error).message}`);
  }
  try {
    const owner = await releaseClaim(nc, chain);
    print(
      owner
        ? `chain ${chain}: released (it belonged to ${owner}); the next \`moat chain up\` of that name claims it`
        : `chain ${chain}: no claim to release`,
    );
  } finally {
    await nc.close();
  }
  return 0;
}

export async function ledgerMain(argv: string[]): Promise<number> {
  const args = parseLedgerArgs(argv);
  switch (args.command) {
    case 'help':
      print(LEDGER_USAGE);
      return 0;
    case '':
      print(LEDGER_USAGE);
      return 2;
    case 'serve':
      return cmdServe(args);
    case 'verify':
      return cmdVerify(args);
    case 'events':
      return cmdEvents(args);
    case 'release':
      return cmdRelease(args);
    default:
      throw new MoatError('MOAT_ERR_USAGE', `unknown command "ledger ${args.command}"\n\n${LEDGER_USAGE}`);
  }
}
