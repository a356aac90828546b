// The live sinks of events.sinks: the ledger writer hands them the findings of the events it has just stored, and each
// sink sends them on its own (syslog over UDP or TCP, or a JSON lines file). Handing over never waits: each sink has a
// bounded queue, and when it is full the oldest findings are dropped and counted (said in the log, and in the next
// message sent). A sink that is down (no listener, a full disk) is retried with a growing pause and logged once per
// outage; nothing here throws into the writer. What a sink sends is the finding (finding.ts): the ledger's fields,
// masked once more, never a body.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { constants, promises as fsp } from 'node:fs';
import type { Finding } from './finding';
import { sendProblem, type SinkSpec } from './sink-spec';
import { syslogMessage, tcpFrame, udpDatagram } from './syslog';

/** Findings a sink holds while it cannot send. */
export const SINK_QUEUE = 10_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5000;

export interface FindingSink {
  readonly name: string;
  push(findings: readonly Finding[]): void;
  /** Sends what it holds (at most `waitMs`), then closes. */
  close(waitMs?: number): Promise<void>;
}

/** What a sink does with one batch of messages: resolves when sent, rejects when the sink is down. */
interface Transport {
  send(findings: readonly Finding[]): Promise<void>;
  close(): void;
}

export function sinkName(s: SinkSpec): string {
  return s.kind === 'jsonl' ? `jsonl ${s.file}` : `syslog ${s.protocol} ${s.host}:${s.port}`;
}

/** One queue and one sender per sink. */
export function startSinks(specs: readonly SinkSpec[], log: (line: string) => void, queue = SINK_QUEUE): FindingSink[] {
  return specs.map((spec) => new QueuedSink(spec, transportFor(spec), log, queue));
}

class QueuedSink implements FindingSink {
  readonly name: string;
  private readonly queue: Finding[] = [];
  private dropped = 0;
  private sending = false;
  private closed = false;
  private down: string | undefined;
  private retryMs = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];

  constructor(
    spec: SinkSpec,
    private readonly transport: Transport,
    private readonly log: (line: string) => void,
    private readonly limit: number,
  ) {
    this.name = sinkName(spec);
  }

  push(findings: readonly Finding[]): void {
    if (this.closed || findings.length === 0) return;
    this.queue.push(...findings);
    const over = this.queue.length - this.limit;
    if (over > 0) {
      this.queue.splice(0, over);
      if (this.dropped === 0) this.log(`findings sink ${this.name}: queue full, dropping the oldest findings`);
      this.dropped += over;
    }
    if (!this.timer) this.pump();
  }

  private pump(): void {
    if (this.sending || this.queue.length === 0) return this.settle();
    this.sending = true;
    const batch = this.queue.slice(0, 100);
    this.transport.send(batch).then(
      () => {
        this.queue.splice(0, batch.length);
        this.sending = false;
        if (this.down !== undefined) this.log(`findings sink ${this.name}: sending again`);
        if (this.dropped > 0) this.log(`findings sink ${this.name}: ${this.dropped} finding(s) were dropped`);
        this.down = undefined;
        this.dropped = 0;
        this.retryMs = RETRY_MIN_MS;
        setImmediate(() => this.pump());
      },
      (err: Error) => {
        this.sending = false;
        if (this.down === undefined)
          this.log(`findings sink ${this.name}: ${err.message}; keeping findings and retrying`);
        this.down = err.message;
        if (this.closed) return this.settle();
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.retryMs);
        this.timer.unref();
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      },
    );
  }

  private settle(): void {
    if (this.queue.length === 0 || this.closed) this.idle.splice(0).forEach((r) => r());
  }

  async close(waitMs = 2000): Promise<void> {
    const drained = new Promise<void>((r) => this.idle.push(r));
    if (!this.sending && !this.timer) this.settle();
    await Promise.race([drained, new Promise((r) => setTimeout(r, waitMs).unref())]);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.transport.close();
    if (this.queue.length > 0) this.log(`findings sink ${this.name}: ${this.queue.length} finding(s) not sent at stop`);
  }
}

function transportFor(spec: SinkSpec): Transport {
  if (spec.kind === 'jsonl') return jsonlTransport(spec.file);
  const origin = { hostname: hostname(), procId: process.pid, facility: spec.facility };
  // The writer's spec is a file: the rule the config check applies holds here too.
  const refused = sendProblem(spec);
  if (refused) return { send: () => Promise.reject(new Error(`refused: ${refused}`)), close: () => undefined };
  const messages = (findings: readonly Finding[]) => findings.map((f) => syslogMessage(f, origin));
  return spec.protocol === 'udp'
    ? udpTransport(spec.host, spec.port, messages)
    : tcpTransport(spec.host, spec.port, messages);
}

function udpTransport(host: string, port: number, messages: (f: readonly Finding[]) => string[]): Transport {
  let socket: UdpSocket | undefined;
  return {
    async send(findings) {
      socket ??= createSocket(host.includes(':') ? 'udp6' : 'udp4').on('error', () => undefined);
      socket.unref();
      for (const m of messages(findings))
        await new Promise<void>((resolve, reject) =>
          socket!.send(udpDatagram(m), port, host, (err) => (err ? reject(err) : resolve())),
        );
    },
    close() {
      socket?.close();
      socket = undefined;
    },
  };
}

function tcpTransport(host: string, port: number, messages: (f: readonly Finding[]) => string[]): Transport {
  let socket: Socket | undefined;
  let ready: Promise<Socket> | undefined;
  const open = () =>
    (ready ??= new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
      const fail = (err: Error) => {
        s.destroy();
        ready = undefined;
        socket = undefined;
        reject(err);
      };
      s.once('error', fail);
      s.once('timeout', () => fail(new Error(`no connection to ${host}:${port} within ${CONNECT_TIMEOUT_MS} ms`)));
      s.once('connect', () => {
        s.setTimeout(0);
        s.removeAllListeners('error');
        s.removeAllListeners('timeout');
        // A receiver that goes away: the next batch connects again.
        s.on('error', () => s.destroy());
        s.once('close', () => {
          if (socket === s) {
            socket = undefined;
            ready = undefined;
          }
        });
        s.unref();
        socket = s;
        resolve(s);
      });
    }));
  return {
    async send(findings) {
      const s = await open();
      if (s.destroyed) throw new Error(`connection to ${host}:${port} closed`);
      await new Promise<void>((resolve, reject) =>
        s.write(Buffer.concat(messages(findings).map(tcpFrame)), (err) => (err ? reject(err) : resolve())),
      );
    },
    close() {
      socket?.end();
      socket = undefined;
      ready = undefined;
    },
  };
}

function jsonlTransport(file: string): Transport {
  return {
    async send(findings) {
      // Opened per batch: a file moved away (log rotation) is made again; never through a symbolic link; 0600.
      const handle = await fsp.open(
        file,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
        0o600,
      );
      try {
        await handle.chmod(0o600);
        await handle.appendFile(findings.map((f) => JSON.stringify(f) + '\n').join(''));
      } finally {
        await handle.close();
      }
    },
    close: () => undefined,
  };
}
