// The helper of `moat chain run --transparent` and of a hop with `isolation: netns`, started by
// namespaces.ts as
//   unshare --user --map-root-user --net --pid --fork --kill-child node netns-main.js ARGS
// so it is root of a new user namespace, alone in a new network namespace (only `lo`), and init of a
// new PID namespace (when it exits, the kernel kills whatever the command left behind). It:
//   1. makes every IPv4 and IPv6 address local (`ip route add local 0.0.0.0/0 dev lo`): a connection to
//      any address ends in this namespace; nothing is routed anywhere else;
//   2. listens on ports 443 and 80 (TCP) and 53 (UDP) of every address, and sends those sockets to the
//      run process outside, which serves them (run.ts);
//   3. runs the command as the caller's own user, in a nested user namespace that holds no capability over
//      this network namespace, so the command cannot change its addresses, routes or listeners.
// It is also alone in a mount namespace: before anything else it hides moat's state directories and mounts a /proc of
// its own PID namespace (hide-state.ts); for a hop it also makes the rest read-only and /tmp its own.
// For a hop it also hands over a listener on its next link's port, says when the hop accepts connections,
// and opens connections to the hop on request (the link in front of it cannot reach into the namespace).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import dgram from 'node:dgram';
import { constants } from 'node:os';
import { rmSync } from 'node:fs';
import { CAPTURE_ADDRESS, CAPTURED_PORTS, DNS_PORT, type FromHelper, type HelperArgs, type ToHelper } from './protocol';
import { hideState } from './hide-state';

function send(message: FromHelper, handle?: net.Server | net.Socket | dgram.Socket): Promise<void> {
  return new Promise((resolve, reject) =>
    process.send!(message, handle as net.Server, undefined, (err) => (err ? reject(err) : resolve())),
  );
}

/** Each step's name is what the run process reports when it fails. */
function ip(args: HelperArgs, step: string, argv: string[]): void {
  try {
    execFileSync(args.ip, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw Object.assign(new Error(stderr || (err as Error).message), { step });
  }
}

function setUpNetwork(args: HelperArgs): void {
  ip(args, 'ip link set lo up', ['link', 'set', 'lo', 'up']);
  // An address besides 127.0.0.1, so resolvers asked for AI_ADDRCONFIG still ask for IPv4 (glibc skips A
  // queries on a host whose only IPv4 address is 127.0.0.1); also the address every name resolves to.
  ip(args, `ip addr add ${CAPTURE_ADDRESS}/32 dev lo`, ['addr', 'add', `${CAPTURE_ADDRESS}/32`, 'dev', 'lo']);
  ip(args, 'ip route add local 0.0.0.0/0 dev lo', ['route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo']);
  try {
    ip(args, 'ip -6 route add local ::/0 dev lo', ['-6', 'route', 'add', 'local', '::/0', 'dev', 'lo']);
  } catch {
    // A kernel without IPv6: IPv6 destinations are simply unreachable.
  }
}

/** Every address, dual-stack where the kernel has IPv6 (IPv4 only otherwise); or the one address given. */
function listenTcp(port: number, only?: string): Promise<net.Server> {
  const attempt = (host: string) =>
    new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port, host, ipv6Only: false, backlog: 511 }, () => resolve(server));
    });
  if (only) return attempt(only);
  return attempt('::').catch(() => attempt('0.0.0.0'));
}

function bindUdp(port: number): Promise<dgram.Socket> {
  const attempt = (type: 'udp4' | 'udp6', host: string) =>
    new Promise<dgram.Socket>((resolve, reject) => {
      const socket = dgram.createSocket({ type, ipv6Only: false });
      socket.once('error', reject);
      socket.bind(port, host, () => resolve(socket));
    });
  return attempt('udp6', '::').catch(() => attempt('udp4', '0.0.0.0'));
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as HelperArgs;
  let handles: (net.Server | dgram.Socket)[] = [];
  try {
    // Moat's state covered, only this namespace's processes in /proc (hide-state.ts).
    if (args.hide) hideState(args.hide);
    setUpNetwork(args);
    for (const port of CAPTURED_PORTS) {
      const server = await listenTcp(port).catch((err: Error) =>
        Promise.reject(Object.assign(err, { step: `listen on port ${port}` })),
      );
      handles.push(server);
      await send({ kind: 'listener', port }, server);
    }
    const dns = await bindUdp(DNS_PORT).catch((err: Error) =>
      Promise.reject(Object.assign(err, { step: `bind UDP port ${DNS_PORT}` })),
    );
    handles.push(dns);
    await send({ kind: 'dns' }, dns);
    if (args.hop) {
      const port = args.hop.upstreamPort;
      const upstream = await listenTcp(port, '127.0.0.1').catch((err: Error) =>
        Promise.reject(Object.assign(err, { step: `listen on 127.0.0.1:${port}` })),
      );
      handles.push(upstream);
      await send({ kind: 'upstream' }, upstream);
    }
  } catch (err) {
    const step = (err as { step?: string }).step ?? 'setting up the namespace';
    await send({ kind: 'failed', step, message: (err as Error).message }).catch(() => undefined);
    process.exit(1);
  }

  let child: ChildProcess | undefined;
  const exitWith = (code: number) => {
    if (args.removeAtExit) removeAgentFiles(args.removeAtExit);
    process.exit(code);
  };
  // The terminal sends Ctrl-C to the command itself (same process group); passing it on would send it twice.
  // A hop has no terminal: pm2 stops it with SIGINT.
  process.on('SIGINT', () => (args.hop ? child?.kill('SIGINT') : undefined));
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child?.kill(signal));
  // The run process is gone (killed): end the command, then this namespace with it.
  process.on('disconnect', () => {
    if (!child) exitWith(1);
    child?.kill('SIGTERM');
    setTimeout(() => exitWith(137), 2000);
  });
  process.on('message', (m: ToHelper) => {
    if (m.kind === 'connect') return connectToHop(args.hop!.port, m.id);
    if (m.kind === 'signal') {
      // Before the command started: it never will.
      if (!child) exitWith(128 + (constants.signals[m.signal] ?? 0));
      child?.kill(m.signal);
      return;
    }
    if (m.kind !== 'start' || child) return;
    // Served outside from now on: this process's copies would take connections of their own.
    for (const h of handles) h.close();
    handles = [];
    child = spawn(
      args.unshare,
      ['--user', `--map-user=${args.uid}`, `--map-group=${args.gid}`, '--', ...args.command],
      { stdio: 'inherit' },
    );
    child.on('error', (err) => {
      process.stderr.write(`moat: cannot run ${args.command[0]}: ${err.message}\n`);
      exitWith(127);
    });
    child.on('exit', (code, signal) => exitWith(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    if (args.hop) void reportReady(args.hop.port, child);
  });
}

/**
 * Removes the files made for the command (its copy of the CA) as the namespace ends. Whatever the command left
 * running is killed first, so nothing changes the directory while it goes: as init of this PID namespace, kill(-1)
 * reaches every process in it but this one (and nothing outside). rmSync removes a link put in the directory's
 * place, it does not follow it; moat's state is covered here anyway. A failure is said, never thrown: the command's
 * exit code must still be the run's.
 */
function removeAgentFiles(dir: string): void {
  if (process.pid === 1) {
    try {
      process.kill(-1, 'SIGKILL');
    } catch {
      // nothing else left (ESRCH)
    }
  }
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    process.stderr.write(`moat: could not remove ${dir}: ${(err as Error).message}\n`);
  }
}

/** Polls the hop's port until it accepts a connection (or the hop exits), then says so. */
async function reportReady(port: number, child: ChildProcess): Promise<void> {
  while (child.exitCode === null && child.signalCode === null) {
    const accepted = await new Promise<boolean>((resolve) => {
      const probe = net.connect(port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (accepted) return void send({ kind: 'ready' }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A connection to the hop, sent over unread: paused before it connects, so no byte is taken in here. */
function connectToHop(port: number, id: number): void {
  const socket = net.connect(port, '127.0.0.1');
  socket.pause();
  // Should the socket not travel, the wrapper is told, or the link's connection would wait there for ever.
  const failed = (message: string) => void send({ kind: 'connect-failed', id, message }).catch(() => undefined);
  socket.once(
    'connect',
    () =>
      void send({ kind: 'connected', id }, socket).catch((err: Error) => {
        socket.destroy();
        failed(`could not pass the connection out: ${err.message}`);
      }),
  );
  socket.once('error', (err) => failed(err.message));
}

if (require.main === module) void main();
