// `moat chain run --transparent -- CMD`: CMD runs in network, user and PID namespaces of its own
// (netns-main.ts sets them up) where every address is local and only ports 443, 80 (TCP) and 53
// (UDP) answer; this process serves those sockets from outside: TCP into the chain through ingress
// (relay.ts), DNS with one fixed address for every name (dns.ts). Nothing else leaves the namespace,
// and the kernel removes it, with anything CMD left running, when CMD ends or this process dies.
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { constants } from 'node:os';
import type net from 'node:net';
import type dgram from 'node:dgram';
import { MoatError } from '../errors';
import { findOnPath } from '../find-on-path';
import { TransparentRelay } from './relay';
import { dnsResponse } from './dns';
import { CAPTURE_ADDRESS, CAPTURED_PORTS, DNS_TTL_S, type FromHelper, type HelperArgs, type ToHelper } from './protocol';

const HELPER = resolve(__dirname, 'netns-main.js');

export interface NamespaceTools {
  unshare: string;
  ip: string;
}

/** unshare (util-linux) and ip (iproute2), on Linux; MOAT_ERR_NAMESPACES naming what is missing. */
export function namespaceTools(find: (command: string) => string | undefined = findOnPath, platform: string = process.platform): NamespaceTools {
  if (platform !== 'linux') throw new MoatError('MOAT_ERR_NAMESPACES', `run --transparent needs Linux network namespaces; this system is ${platform}. Use \`moat chain run\` without --transparent (the agent gets proxy settings)`);
  const unshare = find('unshare');
  const ip = find('ip');
  const missing = [...(unshare ? [] : ['`unshare` (package util-linux)']), ...(ip ? [] : ['`ip` (package iproute2)'])];
  if (missing.length) throw new MoatError('MOAT_ERR_NAMESPACES', `run --transparent needs ${missing.join(' and ')}, not found on PATH; install ${missing.length > 1 ? 'them' : 'it'} (e.g. \`apt-get install ${missing.map((m) => /package (\S+)\)/.exec(m)![1]).join(' ')}\`)`);
  return { unshare: unshare!, ip: ip! };
}

/** What to do when the kernel refuses the namespaces, for root and for everyone else. */
export function namespaceHint(uid: number): string {
  if (uid === 0) return 'the kernel refuses user namespaces even to root: user.max_user_namespaces may be 0, or a container forbids unshare (seccomp); allow them, or use `moat chain run` without --transparent';
  return (
    'this system does not let unprivileged users create user namespaces: run it as root, or allow them ' +
    '(`sysctl -w user.max_user_namespaces=15000`; Debian before 11: `sysctl -w kernel.unprivileged_userns_clone=1`; ' +
    'Ubuntu 23.10 and later: `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`)'
  );
}

const UNSHARE_OUTER = ['--user', '--map-root-user', '--net', '--pid', '--fork'];

/** Tries the namespaces once (a network namespace whose `lo` can be configured) before anything else starts. */
export function checkNamespaces(tools: NamespaceTools, uid: number = process.getuid!()): void {
  const probe = spawnSync(tools.unshare, [...UNSHARE_OUTER, tools.ip, 'link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status === 0) return;
  const why = (probe.stderr || probe.error?.message || `exit status ${probe.status}`).trim();
  throw new MoatError('MOAT_ERR_NAMESPACES', `run --transparent cannot create its network namespace (${why}); ${namespaceHint(uid)}`);
}

export interface TransparentRunOptions {
  command: string[];
  /** CMD's environment: the CA variables and placeholders, no proxy settings. */
  env: NodeJS.ProcessEnv;
  ingressPort: number;
  token: string;
  log?: (line: string) => void;
}

/** Runs the command in its namespaces until it exits; resolves with its exit code. */
export async function runTransparent(o: TransparentRunOptions): Promise<number> {
  const tools = namespaceTools();
  checkNamespaces(tools);
  const log = o.log ?? ((line: string) => void process.stderr.write(`moat: transparent: ${line}\n`));
  const args: HelperArgs = { ip: tools.ip, unshare: tools.unshare, uid: process.getuid!(), gid: process.getgid!(), command: o.command };
  // --kill-child: should unshare itself be killed, the kernel kills the helper, and the PID namespace with it.
  const child = spawn(tools.unshare, [...UNSHARE_OUTER, '--kill-child', process.execPath, HELPER, JSON.stringify(args)], {
    env: o.env,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  });
  const relay = new TransparentRelay({ ingressPort: o.ingressPort, token: o.token, log });
  const handles: (net.Server | dgram.Socket)[] = [];
  let started = false;
  let failed: Extract<FromHelper, { kind: 'failed' }> | undefined;

  const tell = (m: ToHelper) => {
    if (child.connected) child.send(m);
  };
  // Ctrl-C reaches the command from the terminal (same process group): this process waits for it to exit.
  const onInterrupt = () => undefined;
  let signalled: NodeJS.Signals | undefined;
  const onTerminate = (signal: NodeJS.Signals) => {
    signalled = signal;
    tell({ kind: 'signal', signal });
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  process.on('SIGHUP', onTerminate);

  child.on('message', (m: FromHelper, handle: unknown) => {
    if (started) return;
    if (m.kind === 'failed') failed = m;
    else if (m.kind === 'listener') {
      relay.serve(handle as net.Server, m.port);
      handles.push(handle as net.Server);
    } else if (m.kind === 'dns') {
      serveDns(handle as dgram.Socket);
      handles.push(handle as dgram.Socket);
    }
    if (handles.length === CAPTURED_PORTS.length + 1) {
      started = true;
      tell({ kind: 'start' });
    }
  });

  return new Promise((resolvePromise, reject) => {
    child.on('error', (err) => reject(new MoatError('MOAT_ERR_NAMESPACES', `cannot start ${tools.unshare}: ${err.message}`)));
    // 'close', not 'exit': every message (and handle) the helper sent has been read by then.
    child.on('close', (code, signal) => {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onTerminate);
      process.off('SIGHUP', onTerminate);
      for (const h of handles) h.close();
      relay.close();
      if (!started && signalled) return resolvePromise(128 + (constants.signals[signalled] ?? 0));
      if (!started) {
        const why = failed ? `${failed.step}: ${failed.message}` : `unshare exited with ${signal ?? code}`;
        return reject(new MoatError('MOAT_ERR_NAMESPACES', `run --transparent could not set up its network namespace (${why}); ${namespaceHint(args.uid)}`));
      }
      resolvePromise(code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0));
    });
  });
}

/** Every A question gets CAPTURE_ADDRESS; other types an empty answer (dns.ts). */
function serveDns(socket: dgram.Socket): void {
  socket.on('message', (msg, from) => {
    const response = dnsResponse(msg, { address: CAPTURE_ADDRESS, ttl: DNS_TTL_S });
    if (response) socket.send(response, from.port, from.address);
  });
  socket.on('error', () => undefined);
}
