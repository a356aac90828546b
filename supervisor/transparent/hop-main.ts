// The pm2 app of a hop with `isolation: netns` (its `command` in the plan is the hop's own; `up` runs
// this instead, with the hop's spec). It starts the hop's command inside network namespaces of its own
// (netns-main.ts) and serves the namespace from outside:
//   - the hop's connections to ports 443 and 80 of any address go into the next link as CONNECT with the
//     chain token (relay.ts), its DNS questions are answered (dns-server.ts), and its connections to its
//     upstream setting (127.0.0.1:<next link's port> inside) are piped to the next link; nothing else leaves;
//   - the link in front of the hop connects to 127.0.0.1:<hop port> on this machine as for any hop: this
//     process listens there, once the hop accepts inside, and passes each connection in through a
//     connection the helper opened to the hop inside, once it has said the entrance line with the credential
//     only that link holds (hops/runtime/hop-entrance.ts); any other local process gets 407 and is closed.
// The hop sees its own processes only, none of moat's files but its directory and the CA, and can write nowhere but
// there and in a /tmp of its own (hide-state.ts): a pm2 socket would let it start a process outside its namespaces,
// the state directory holds every link's credential, and a file it changed could run its code outside later.
// When the hop exits, so does this process (pm2 restarts it); when this process dies, the helper ends the
// hop and the kernel removes the namespaces with anything left in them.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type dgram from 'node:dgram';
import { constants } from 'node:os';
import { TransparentRelay, type RelayTarget } from './relay';
import { serveDns } from './dns-server';
import { checkNamespaces, findTool, namespaceTools, spawnHelper, type NamespacePurpose } from './namespaces';
import { CAPTURED_PORTS, type FromHelper, type ToHelper } from './protocol';
import { isolatedHopHiding, type IsolatedHopHidden } from './covered-paths';
import { checkEntrance, entranceLine, ENTRANCE_REFUSAL } from '../../hops/runtime/hop-entrance';
import { RefusalLog } from '../../hops/runtime/refusal-log';
import { exitWithParent } from '../../hops/runtime/parent-watch';

/** <state>/run/<id>.json of an isolated hop. */
export interface IsolatedHopSpec {
  hop: number;
  name: string;
  /** The hop's port, on 127.0.0.1 inside the namespace and (served by this process) on this machine. */
  port: number;
  /** The Moat process after the hop: its next link, or egress. */
  next: RelayTarget;
  tokenFile: string;
  /** The credential of this hop's entrance: the link in front of it says it first on every connection. */
  entranceFile: string;
  /** The hop's own argv, argv[0] an absolute path. */
  command: string[];
  /** What its namespaces hide from it, and what of that it keeps (covered-paths.ts). */
  hidden: IsolatedHopHidden;
}

/** The MOAT_ERR_NAMESPACES messages of an isolated hop name it. */
export function isolationPurpose(hop: number, name: string): NamespacePurpose {
  return {
    what: `hop ${hop} (${name}), isolated in network namespaces (isolation: netns, the default)`,
    instead:
      'set `isolation: none` on it (any local process can then send into its port; a hop that dials ' +
      'destinations itself must then be the last)',
  };
}

function log(line: string): void {
  process.stderr.write(`moat: netns: ${line}\n`);
}

/** Bytes both ways until either side closes. */
function join(a: net.Socket, b: net.Socket): void {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ]) {
    from.on('error', () => from.destroy());
    from.once('close', () => to.destroy());
    from.pipe(to);
  }
  a.resume();
  b.resume();
}

// How long a connection may take to say the entrance line (the link writes it with its first bytes).
const ENTRANCE_TIMEOUT_MS = 10_000;

/**
 * Reads the entrance line: 'open' (the socket paused, what followed the line put back) once it is right. Otherwise
 * the client gets 407 and is closed: 'refused' for a wrong line, a proxy request, a scan, or nothing within the
 * timeout; 'silent' for a connection closed without a byte (a port check such as `up`'s readiness wait: not logged).
 */
function awaitEntrance(
  client: net.Socket,
  expected: Buffer,
  timeoutMs: number,
): Promise<'open' | 'refused' | 'silent'> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (outcome: 'open' | 'refused' | 'silent') => {
      clearTimeout(timer);
      client.removeListener('data', onData);
      client.removeListener('close', onClose);
      // Closed for good soon after the refusal: a refused client may not hold the socket half-open.
      if (outcome !== 'open' && !client.destroyed) {
        client.end(ENTRANCE_REFUSAL);
        setTimeout(() => client.destroy(), 2000).unref();
      }
      resolve(outcome);
    };
    const timer = setTimeout(() => done('refused'), timeoutMs);
    const onClose = () => done(got.length === 0 ? 'silent' : 'refused');
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const check = checkEntrance(got, expected);
      if (check.state === 'incomplete') return;
      if (check.state === 'refused') return done('refused');
      client.pause();
      if (check.rest.length > 0) client.unshift(check.rest);
      done('open');
    };
    client.on('data', onData);
    client.once('close', onClose);
  });
}

function main(): void {
  // pm2's daemon gone: this process exits, and its helper ends the hop (its IPC channel closes).
  exitWithParent();
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as IsolatedHopSpec;
  const purpose = isolationPurpose(spec.hop, spec.name);
  let tools;
  try {
    tools = namespaceTools(findTool, process.platform, purpose);
    checkNamespaces(tools, process.getuid!(), purpose);
  } catch (err) {
    log((err as Error).message);
    process.exit(1);
  }
  const token = readFileSync(spec.tokenFile, 'utf8').trim();
  const child = spawnHelper(
    tools,
    {
      ip: tools.ip,
      unshare: tools.unshare,
      uid: process.getuid!(),
      gid: process.getgid!(),
      command: spec.command,
      hop: { port: spec.port, upstreamPort: spec.next.port },
      hide: isolatedHopHiding(spec.hidden, tools.mount, process.getuid!()),
    },
    process.env,
  );
  const relay = new TransparentRelay({ target: spec.next, token, log });
  const tell = (m: ToHelper) => {
    if (child.connected) child.send(m);
  };
  const handles: (net.Server | dgram.Socket)[] = [];
  const waiting = new Map<number, net.Socket>();
  let nextId = 0;
  let started = false;

  // The link in front connects here; each connection that says the entrance line is passed in through one
  // the helper opens to the hop.
  const entrance = entranceLine(readFileSync(spec.entranceFile, 'utf8').trim());
  const refusals = new RefusalLog(log, `hop ${spec.hop} (${spec.name})'s entrance, listener 127.0.0.1:${spec.port}`);
  const front = net.createServer({ noDelay: true }, (client) => {
    client.on('error', () => client.destroy());
    awaitEntrance(client, entrance, ENTRANCE_TIMEOUT_MS).then((outcome) => {
      if (outcome !== 'open') {
        if (outcome === 'refused') refusals.note('connection');
        return;
      }
      const id = ++nextId;
      waiting.set(id, client);
      client.once('close', () => waiting.delete(id));
      tell({ kind: 'connect', id });
    });
  });
  front.on('error', (err) => {
    log(`cannot listen on 127.0.0.1:${spec.port}: ${err.message}`);
    child.kill('SIGTERM');
  });

  child.on('message', (m: FromHelper, handle: unknown) => {
    switch (m.kind) {
      case 'failed':
        log(`could not set up the network namespace (${m.step}: ${m.message})`);
        return;
      case 'listener':
        relay.serve(handle as net.Server, m.port);
        handles.push(handle as net.Server);
        break;
      case 'dns':
        serveDns(handle as dgram.Socket);
        handles.push(handle as dgram.Socket);
        break;
      case 'upstream':
        // Its upstream setting names the next link, which wants the token like any other client.
        (handle as net.Server).on('connection', (socket: net.Socket) =>
          join(socket, net.connect(spec.next.port, '127.0.0.1')),
        );
        // An accept error (out of descriptors) is said, not thrown: an uncaught one would end the hop's wrapper.
        (handle as net.Server).on('error', (err) => log(`upstream listener: ${err.message}`));
        handles.push(handle as net.Server);
        break;
      case 'ready':
        front.listen(spec.port, '127.0.0.1');
        return;
      case 'connected': {
        const client = waiting.get(m.id);
        waiting.delete(m.id);
        if (client && !client.destroyed) join(client, handle as net.Socket);
        else (handle as net.Socket).destroy();
        return;
      }
      case 'connect-failed':
        log(`could not reach the hop on 127.0.0.1:${spec.port} inside its namespace: ${m.message}`);
        waiting.get(m.id)?.destroy();
        return;
    }
    if (!started && handles.length === CAPTURED_PORTS.length + 2) {
      started = true;
      tell({ kind: 'start' });
    }
  });

  // pm2 stops an app with SIGINT, then SIGKILL: the hop gets the signal, and its exit ends this process.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => (started ? tell({ kind: 'signal', signal }) : process.exit(1)));
  child.on('error', (err) => {
    log(`cannot start ${tools.unshare}: ${err.message}`);
    process.exit(1);
  });
  child.on('close', (code, signal) => {
    relay.close();
    front.close();
    for (const h of handles) h.close();
    if (!started) log(`the namespace's helper exited before the hop started (${signal ?? code})`);
    process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
  });
}

if (require.main === module) main();
