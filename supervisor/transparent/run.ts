// `moat chain run --transparent -- CMD`: CMD runs in network, user and PID namespaces of its own
// (netns-main.ts sets them up) where every address is local and only ports 443, 80 (TCP) and 53
// (UDP) answer; this process serves those sockets from outside: TCP into the chain through ingress
// (relay.ts), DNS with one fixed address for every name (dns.ts). Nothing else leaves the namespace,
// and the kernel removes it, with anything CMD left running, when CMD ends or this process dies.
// CMD also has a mount namespace of its own: its /proc shows only its own processes, and moat's state
// directories (`cover`) are empty there (hide-state.ts).
import { constants } from 'node:os';
import type net from 'node:net';
import type dgram from 'node:dgram';
import { MoatError } from '../errors';
import { TransparentRelay } from './relay';
import { serveDns } from './dns-server';
import { checkNamespaces, namespaceHint, namespaceTools, spawnHelper } from './namespaces';
import { CAPTURED_PORTS, type FromHelper, type HelperArgs, type ToHelper } from './protocol';

export { checkNamespaces, namespaceHint, namespaceTools } from './namespaces';

export interface TransparentRunOptions {
  command: string[];
  /** CMD's environment: the CA variables and placeholders, no proxy settings. */
  env: NodeJS.ProcessEnv;
  ingressPort: number;
  token: string;
  /** Directories CMD must not read (MOAT_HOME, pm2's home): covered by an empty read-only tmpfs inside. */
  cover?: string[];
  /** A directory of files made for CMD (its copy of the CA): removed as CMD's namespace ends, even if this dies. */
  removeAtExit?: string;
  log?: (line: string) => void;
}

/** Runs the command in its namespaces until it exits; resolves with its exit code. */
export async function runTransparent(o: TransparentRunOptions): Promise<number> {
  const tools = namespaceTools();
  checkNamespaces(tools);
  const log = o.log ?? ((line: string) => void process.stderr.write(`moat: transparent: ${line}\n`));
  const hide = { mount: tools.mount, cover: o.cover ?? [] };
  const args: HelperArgs = {
    ip: tools.ip,
    unshare: tools.unshare,
    uid: process.getuid!(),
    gid: process.getgid!(),
    command: o.command,
    hide,
    removeAtExit: o.removeAtExit,
  };
  const child = spawnHelper(tools, args, o.env);
  const relay = new TransparentRelay({ target: { port: o.ingressPort, hop: 0, name: 'ingress' }, token: o.token, log });
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
    child.on('error', (err) =>
      reject(new MoatError('MOAT_ERR_NAMESPACES', `cannot start ${tools.unshare}: ${err.message}`)),
    );
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
        return reject(
          new MoatError(
            'MOAT_ERR_NAMESPACES',
            `run --transparent could not set up its network namespace (${why}); ${namespaceHint(args.uid)}`,
          ),
        );
      }
      resolvePromise(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
