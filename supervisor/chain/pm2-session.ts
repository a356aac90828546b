// A connection to the pm2 daemon of one chain (its own PM2_HOME), with promises instead
// of callbacks, and a disconnect that really lets the process exit (pm2's RPC
// sockets keep a reconnect timer alive unless their retry timeout is zeroed first).
// `any`: pm2 ships no types.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MoatError } from '../errors';

export interface Pm2App {
  name: string;
  script: string;
  args?: string[];
  interpreter?: string;
  /** Options for node itself, before the script. */
  node_args?: string[];
  cwd?: string;
  env: Record<string, string>;
  out_file: string;
  error_file: string;
}

export interface Pm2Process {
  name: string;
  pid: number;
  status: string;
  restarts: number;
  uptimeStart: number;
}

type Callback<T> = (err: Error | null, value: T) => void;

/** How long one pm2 call may take (its daemon boots in about 0.4 s; a start answers in milliseconds). */
const CALL_TIMEOUT_MS = 30_000;
/** How long stopping every app and the daemon may take. */
const KILL_TIMEOUT_MS = 120_000;

export class Pm2Session {
  private readonly api: any;
  private connected = false;
  /** A call went past its bound: the daemon is taken for hung, and nothing more is asked of it. */
  private unanswered = false;

  /** callTimeoutMs: the bound of each call but `kill` (a parameter for the test that stops a daemon). */
  constructor(
    readonly pm2Home: string,
    private readonly callTimeoutMs = CALL_TIMEOUT_MS,
  ) {
    this.api = new (loadPm2(pm2Home).custom)({ pm2_home: pm2Home, daemon_mode: true });
  }

  /**
   * One pm2 API call, bounded: pm2 waits for its daemon without a deadline of its own, so a daemon that never answers
   * would hold `up` (or status, down) for ever; after CALL_TIMEOUT_MS it is MOAT_ERR_PM2 naming the call and the log.
   */
  private call<T>(what: string, fn: (cb: Callback<T>) => void, timeoutMs = this.callTimeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.unanswered = true;
        reject(
          new MoatError(
            'MOAT_ERR_PM2',
            `pm2 ${what}: its daemon did not answer within ${timeoutMs / 1000} s ` +
              `(its log: ${join(this.pm2Home, 'pm2.log')})`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      fn((err, value) => {
        clearTimeout(timer);
        if (err) reject(new MoatError('MOAT_ERR_PM2', `pm2 ${what}: ${(err as Error).message ?? err}`));
        else resolve(value);
      });
    });
  }

  /**
   * Connects, spawning the daemon when none runs. pm2 spawns it with this process's environment, so
   * every variable whose value contains one of `secrets` is left out meanwhile. And a daemon killed by
   * a signal dumps its process list, every app's environment included (egress's real keys), to
   * <pm2 home>/dump.pm2: moat never resurrects from it, so that file is a symlink to /dev/null.
   */
  async connect(secrets: readonly string[] = []): Promise<void> {
    mkdirSync(this.pm2Home, { recursive: true, mode: 0o700 });
    const dump = join(this.pm2Home, 'dump.pm2');
    let linked = false;
    try {
      linked = readlinkSync(dump) === '/dev/null';
    } catch {
      // absent, or a regular file
    }
    if (!linked) {
      rmSync(dump, { force: true });
      symlinkSync('/dev/null', dump);
    }
    quietDaemon(this.pm2Home);
    // For the spawn only, restored after: every variable whose value holds a secret left out, and DAEMON_ENV set with
    // the chain's PM2_HOME (pm2 spawns its daemon with this process's PM2_HOME over the home its API was given,
    // lib/Client.js: a user's own would send the chain's daemon there).
    const forDaemon: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(process.env))
      if (value && secrets.some((s) => s && value.includes(s))) forDaemon[name] = undefined;
    Object.assign(forDaemon, DAEMON_ENV, { PM2_HOME: this.pm2Home });
    const restore = swapEnv(forDaemon);
    try {
      await this.call('connect', (cb) => this.api.connect(cb));
    } finally {
      restore();
    }
    this.connected = true;
  }

  start(app: Pm2App): Promise<void> {
    return this.call(`start ${app.name}`, (cb) =>
      this.api.start(
        {
          ...app,
          // A clean environment: nothing of the supervisor's (keys, tokens) leaks into hops.
          // pm2 7 ignores `filter_env: true` (it tests .length); a list drops every key
          // containing one of its strings, and every key contains ''.
          filter_env: [''],
          autorestart: true,
          restart_delay: 200,
          min_uptime: 1000,
          max_restarts: 50,
          kill_timeout: 3000,
          merge_logs: true,
          time: true,
          exec_mode: 'fork',
          pmx: false, // pm2's in-app metrics agent (@pm2/io) is not wanted in the data path
          automation: false,
          vizion: false,
          instances: 1,
        },
        cb,
      ),
    ).then(() => undefined);
  }

  async list(): Promise<Pm2Process[]> {
    const raw = await this.call<any[]>('list', (cb) => this.api.list(cb));
    return raw.map((p) => ({
      name: p.name,
      pid: p.pid,
      status: p.pm2_env?.status ?? 'unknown',
      restarts: p.pm2_env?.restart_time ?? 0,
      uptimeStart: p.pm2_env?.pm_uptime ?? 0,
    }));
  }

  /** pm2's message bus: log lines of every app, as they are written. */
  onLog(handler: (app: string, line: string, stream: 'out' | 'err') => void): Promise<void> {
    return this.call<any>('launchBus', (cb) => this.api.launchBus(cb)).then((bus) => {
      bus.on('log:out', (packet: any) => handler(packet.process.name, String(packet.data), 'out'));
      bus.on('log:err', (packet: any) => handler(packet.process.name, String(packet.data), 'err'));
    });
  }

  /** Stops every app and the daemon itself. */
  async killDaemon(): Promise<void> {
    // Every app is stopped first, each given kill_timeout (3 s) to exit.
    await this.call('kill', (cb) => this.api.killDaemon(cb), KILL_TIMEOUT_MS);
  }

  /** Whether the daemon answered the connect and every call since (one that did not is not asked again). */
  get answered(): boolean {
    return this.connected && !this.unanswered;
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    const client = this.api.Client;
    for (const sock of [client?.client_sock, client?.sub_sock]) {
      if (!sock) continue;
      sock.set?.('retry timeout', 0);
      sock.retry = 0;
    }
    await new Promise<void>((resolve) => this.api.disconnect(() => resolve()));
    this.connected = false;
  }
}

/**
 * Set while pm2's daemon is spawned (it inherits this process's environment): no daily request to version.pm2.io
 * (the daemon's lib/Worker.js), and no attempt by this process to start or reach PM2 Plus's agent once the daemon is
 * up (lib/Client.js). A chain's supervisor talks to nothing outside this machine.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = {
  PM2_DISABLE_VERSION_CHECK: 'true',
  PM2_NO_INTERACTION: 'true',
};

/**
 * pm2's host metrics off in this chain's pm2 home (`pm2 set pm2:sysmonit false`): the daemon would otherwise run `df`
 * and read every disk's and interface's counters every 30 s, from its start (while the chain's processes start), for
 * an RPC moat never calls.
 */
export function quietDaemon(pm2Home: string): void {
  const file = join(pm2Home, 'module_conf.json');
  let conf: Record<string, any> = {};
  try {
    conf = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // absent or unreadable: pm2 makes it as "{}"; this writes it whole
  }
  if (conf.pm2?.sysmonit === 'false') return;
  conf.pm2 = { ...(conf.pm2 ?? {}), sysmonit: 'false' };
  writeFileSync(file, JSON.stringify(conf), { mode: 0o600 });
}

/** Sets (a string) or removes (undefined) each variable of `changes`; returns what puts every one back as it was. */
function swapEnv(changes: Record<string, string | undefined>): () => void {
  const before = Object.keys(changes).map((name) => [name, process.env[name]] as const);
  const apply = (pairs: Iterable<readonly [string, string | undefined]>) => {
    for (const [name, value] of pairs) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(Object.entries(changes));
  return () => apply(before);
}

let pm2Module: any;

/**
 * pm2, loaded on first use. Loading it makes the directories of $PM2_HOME (by default ~/.pm2, 0755) at once, whatever
 * home its API is given later: so it is loaded with PM2_HOME naming this chain's own, made 0700 first, and no
 * `moat chain` command leaves a ~/.pm2 behind in the user's home.
 */
function loadPm2(pm2Home: string): any {
  if (pm2Module) return pm2Module;
  mkdirSync(pm2Home, { recursive: true, mode: 0o700 });
  const before = process.env.PM2_HOME;
  process.env.PM2_HOME = pm2Home;
  try {
    pm2Module = require('pm2');
  } finally {
    if (before === undefined) delete process.env.PM2_HOME;
    else process.env.PM2_HOME = before;
  }
  return pm2Module;
}
