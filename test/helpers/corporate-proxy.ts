// A corporate proxy for tests of egress.upstream_proxy: the real tinyproxy (apt) with Basic authentication, on
// 127.0.0.1 at a free port, CONNECT allowed only to the given ports, logging every request it serves to a file the
// test reads. Started and stopped by the test; restartable with another password on the same port.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { tmpDir } from './tmp';
import type { CliChain } from './cli-chain';

export const TINYPROXY = '/usr/bin/tinyproxy';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export class CorporateProxy {
  private readonly dir = tmpDir('moat-corp-');
  private child?: ChildProcess;
  port = 0;

  constructor(
    readonly user: string,
    private password: string,
    private readonly connectPorts: number[],
  ) {}

  get logFile(): string {
    return join(this.dir.path, 'tinyproxy.log');
  }

  /** The requests tinyproxy logged ("CONNECT host:port HTTP/1.1", "GET http://... HTTP/1.1"). */
  requests(): string[] {
    if (!existsSync(this.logFile)) return [];
    return [...readFileSync(this.logFile, 'utf8').matchAll(/Request \(file descriptor \d+\): (.*)$/gm)].map(
      (m) => m[1],
    );
  }

  async start(password = this.password): Promise<this> {
    this.password = password;
    this.port ||= await freePort();
    const conf = join(this.dir.path, 'tinyproxy.conf');
    writeFileSync(
      conf,
      [
        `Port ${this.port}`,
        'Listen 127.0.0.1',
        'Allow 127.0.0.1',
        `BasicAuth ${this.user} ${this.password}`,
        ...this.connectPorts.map((p) => `ConnectPort ${p}`),
        `LogFile "${this.logFile}"`,
        'LogLevel Connect',
        'DisableViaHeader Yes',
        'MaxClients 50',
        'Timeout 30',
      ].join('\n') + '\n',
    );
    this.child = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await accepts(this.port)) return this;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`tinyproxy did not listen on 127.0.0.1:${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    for (let i = 0; i < 50 && (await accepts(this.port)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  async cleanup(): Promise<void> {
    await this.stop();
    this.dir.remove();
  }
}

/**
 * Starts the corporate proxy, puts its port into the chain's config (for `{CORP_PORT}`) and brings the chain up with
 * `env` (its credentials): the ingress port and the chain token, for the agent.
 */
export async function upBehind(
  chain: CliChain,
  corp: CorporateProxy,
  env: NodeJS.ProcessEnv,
): Promise<{ port: number; token: string }> {
  await corp.start();
  chain.writeConfig(readFileSync(chain.configFile, 'utf8').replace('{CORP_PORT}', String(corp.port)));
  await chain.up(env);
  return {
    port: (await chain.status()).find((r) => r.name === 'ingress').port,
    token: readFileSync(chain.layout.tokenFile, 'utf8').trim(),
  };
}

/** curl as the agent, through the chain's ingress (absolute form for http://, CONNECT for https://). */
export function curlThrough(
  chain: CliChain,
  agent: { port: number; token: string },
  url: string,
  headers: string[] = [],
): Promise<{ status: number; body: string }> {
  const proxy = `http://moat:${agent.token}@127.0.0.1:${agent.port}`;
  const args = ['-s', '--max-time', '30', '-x', proxy, '--cacert', chain.layout.caCertFile, '-w', '\n%{http_code}'];
  return new Promise((resolve) => {
    execFile('curl', [...args, ...headers.flatMap((h) => ['-H', h]), url], (_err, stdout) => {
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
  });
}
