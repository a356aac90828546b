// What the chain's event load costs nats-server, alone: `node dist/test/bench/nats-load.js [SECONDS] [ROUNDS]` starts
// Debian's nats-server (JetStream, a store in a temporary directory, 127.0.0.1 only) with the chain's stream and the
// ledger writer's consumer (supervisor/ledger/stream.ts), then for SECONDS (default 20) three publishers each send a
// burst of 30 events (about 21 KB, as a recording process sends at the bench's c=32 rate) to JetStream every 100 ms,
// a pull consumer fetches and acks every message (as the ledger writer does) and a core subscription reads them (as
// moat-telemetry does). It prints nats-server's CPU, with Go's default scheduler threads and with GOMAXPROCS=1 (as the
// chain starts it: supervisor/chain/lifecycle.ts), the two interleaved ROUNDS (default 3) times. Every process it
// starts is stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { connect, type NatsConnection } from 'nats';
import { ensureConsumer, ensureStream } from '../../supervisor/ledger/stream';
import { SUBJECTS } from '../../hops/events/subjects';
import { encodeEvents } from '../../hops/events/wire';
import { sampleEvent } from './sample-event';

const SECONDS = Number(process.argv[2] ?? 20);
const ROUNDS = Number(process.argv[3] ?? 3);
const CHAIN = 'bench';
const EVENTS_PER_BURST = 30;

/** User and system CPU ms of a process (/proc/PID/stat, in 1/100 s). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A connection to the server on `port`, retried while it starts; none once it is gone (or never started). */
async function connected(port: number, server: ChildProcess): Promise<NatsConnection> {
  for (let i = 0; ; i++) {
    try {
      return await connect({ servers: `127.0.0.1:${port}`, noAsyncTraces: true });
    } catch (err) {
      if (i > 50 || server.pid === undefined || server.exitCode !== null || server.signalCode !== null) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function eventText(n: number): string {
  const id = (n + 1).toString(16).padStart(32, '0');
  const trace = n.toString(16).padStart(32, '0');
  return JSON.stringify(sampleEvent({ id, chain: CHAIN, trace, span: '1234567890abcdef', direction: 'request' }));
}

async function round(env: Record<string, string>): Promise<{ percent: number; messages: number; stored: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-nats-load-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}\njetstream { store_dir: ${JSON.stringify(dir)} }\n`);
  const server = spawn('nats-server', ['-c', join(dir, 'nats.conf')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: 'ignore',
  });
  const failed = new Promise<never>((_, reject) => server.once('error', reject));
  failed.catch(() => undefined); // raced below; a failure after that must not go unhandled
  const connections: NatsConnection[] = [];
  const timers: NodeJS.Timeout[] = [];
  let reading = true;
  try {
    const admin = await Promise.race([connected(port, server), failed]);
    connections.push(admin);
    await ensureStream(admin, CHAIN);
    await ensureConsumer(admin, CHAIN, SUBJECTS.ledgerConsumer);
    const reader = await connected(port, server);
    connections.push(reader);
    reader.subscribe(SUBJECTS.chain(CHAIN), { callback: () => undefined });
    const writer = await connected(port, server);
    connections.push(writer);
    const consumer = await writer.jetstream().consumers.get(SUBJECTS.stream(CHAIN), SUBJECTS.ledgerConsumer);
    let stored = 0;
    const fetching = (async () => {
      while (reading) {
        const messages = await consumer.fetch({ max_messages: 1000, expires: 1000 });
        for await (const m of messages) {
          stored++;
          m.ack();
        }
      }
    })().catch(() => undefined);
    let n = 0;
    let sent = 0;
    for (let hop = 1; hop <= 3; hop++) {
      const nc = await connected(port, server);
      connections.push(nc);
      const js = nc.jetstream();
      timers.push(
        setInterval(() => {
          const texts = Array.from({ length: EVENTS_PER_BURST }, () => eventText(n++));
          js.publish(SUBJECTS.burst(CHAIN, hop), encodeEvents(texts), { msgID: `${hop}-${n}` }).then(
            () => sent++,
            () => undefined,
          );
        }, 100),
      );
    }
    await new Promise((r) => setTimeout(r, 2000)); // connections made, the store's first files written
    const [cpu0, sent0, t0] = [cpuMs(server.pid!), sent, performance.now()];
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const seconds = (performance.now() - t0) / 1000;
    const percent = (cpuMs(server.pid!) - cpu0) / seconds / 10;
    timers.forEach(clearInterval);
    reading = false;
    await fetching;
    return { percent, messages: (sent - sent0) / seconds, stored };
  } finally {
    timers.forEach(clearInterval);
    reading = false;
    for (const nc of connections) await nc.close().catch(() => undefined);
    if (server.exitCode === null && server.signalCode === null && server.pid !== undefined) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const settings: [string, Record<string, string>][] = [
    ['Go default', {}],
    ['GOMAXPROCS=1', { GOMAXPROCS: '1' }],
  ];
  for (let r = 1; r <= ROUNDS; r++) {
    for (const [label, env] of settings) {
      const x = await round(env);
      console.log(
        `round ${r}, ${label}: nats-server ${x.percent.toFixed(2)}% of a core, ${x.messages.toFixed(1)} messages/s ` +
          `(${((x.percent * 10) / x.messages).toFixed(2)} ms of CPU per message), ${x.stored} delivered to the consumer`,
      );
    }
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
