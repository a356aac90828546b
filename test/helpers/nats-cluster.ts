// A NATS JetStream cluster of real nats-server processes on loopback, for tests of chains on a cluster
// (issue 23): free client and route ports, a password for clients and another for the routes (config
// files 0600, nothing on a command line), one store directory per server. Servers can be killed with
// -9 and started again on the same ports and store; stop() kills every one, whatever happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { freePorts, waitForPort } from '../../supervisor/chain/ports';
import { natsConnection } from '../../hops/events/nats-url';
import { tmpDir } from './tmp';

interface Node {
  name: string;
  port: number;
  routePort: number;
  conf: string;
  child?: ChildProcess;
}

export class NatsCluster {
  readonly user = 'moat';
  readonly password = `pw-${randomBytes(12).toString('hex')}`;
  private readonly routePassword = `route-${randomBytes(12).toString('hex')}`;
  private readonly dir = tmpDir('moat-natsc-');
  readonly nodes: Node[] = [];
  /** Every nats-server this cluster started, so that stop() kills the ones killed and restarted as well. */
  private readonly started: ChildProcess[] = [];

  constructor(
    private readonly size = 3,
    readonly name = 'moat-test',
  ) {}

  /** The client URL list with the password, as events.nats_url takes it (every server, each with its scheme). */
  get url(): string {
    return this.nodes.map((n) => `nats://${this.user}:${this.password}@127.0.0.1:${n.port}`).join(',');
  }

  async start(): Promise<this> {
    const ports = await freePorts(this.size * 2);
    for (let i = 0; i < this.size; i++)
      this.nodes.push({ name: `n${i + 1}`, port: ports[2 * i], routePort: ports[2 * i + 1], conf: '' });
    const routes = this.nodes.map((n) => `"nats://route:${this.routePassword}@127.0.0.1:${n.routePort}"`).join(', ');
    for (const n of this.nodes) {
      const store = join(this.dir.path, n.name);
      mkdirSync(store, { recursive: true, mode: 0o700 });
      n.conf = join(this.dir.path, `${n.name}.conf`);
      writeFileSync(
        n.conf,
        [
          `server_name: ${n.name}`,
          `listen: "127.0.0.1:${n.port}"`,
          `jetstream { store_dir: ${JSON.stringify(store)} }`,
          `authorization { user: ${this.user}, password: "${this.password}" }`,
          'cluster {',
          `  name: ${this.name}`,
          `  listen: "127.0.0.1:${n.routePort}"`,
          `  authorization { user: route, password: "${this.routePassword}" }`,
          `  routes: [${routes}]`,
          '}',
        ].join('\n') + '\n',
        { mode: 0o600 },
      );
    }
    for (const n of this.nodes) this.spawn(n);
    for (const n of this.nodes) if (!(await waitForPort(n.port, 10_000))) throw new Error(`${n.name} did not start`);
    await this.waitForJetStream();
    return this;
  }

  private spawn(n: Node): void {
    n.child = spawn('nats-server', ['-c', n.conf], { stdio: 'ignore' });
    this.started.push(n.child);
  }

  node(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no server ${name}`);
    return n;
  }

  /** A connection as the cluster's user, to any server that is up. */
  connect(): Promise<NatsConnection> {
    return connect({ ...natsConnection(this.url), timeout: 5000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  }

  /** Until the cluster has a JetStream meta leader (an account info request answers). */
  async waitForJetStream(timeoutMs = 30_000): Promise<void> {
    const nc = await this.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          await (await nc.jetstreamManager({ timeout: 2000 })).getAccountInfo();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      await nc.close();
    }
  }

  /** The stream's leader and replicas as the cluster reports them (waits for a leader up to timeoutMs). */
  async placement(stream: string, timeoutMs = 30_000): Promise<{ leader: string; replicas: string[] }> {
    const nc = await this.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const info = await (await nc.jetstreamManager({ timeout: 2000 })).streams.info(stream);
          if (info.cluster?.leader)
            return { leader: info.cluster.leader, replicas: (info.cluster.replicas ?? []).map((r) => r.name) };
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
        if (Date.now() > deadline) throw new Error(`stream ${stream} has no leader`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await nc.close();
    }
  }

  /** kill -9 of one server; resolves once it has exited. */
  async kill(name: string): Promise<void> {
    const child = this.node(name).child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed server again, on its ports and store. */
  async restart(name: string): Promise<void> {
    const n = this.node(name);
    this.spawn(n);
    if (!(await waitForPort(n.port, 10_000))) throw new Error(`${name} did not start again`);
  }

  /** Kills every server ever started here and removes the stores. */
  async stop(): Promise<void> {
    await Promise.all(
      this.started.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        return exited;
      }),
    );
    this.dir.remove();
  }
}
