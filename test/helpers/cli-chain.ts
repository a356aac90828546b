// Runs the real `moat` CLI against a chain in its own MOAT_HOME, for end-to-end tests.
// cleanup() stops the chain and then makes sure no process of it survives.
import { execFile, spawn } from 'node:child_process';
import { writeFileSync, existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from './tmp';
import { stateLayout, type StateLayout } from '../../supervisor/chain/state';
import { isAlive } from '../../hops/runtime/chain-processes';
import { expect } from 'chai';
import { MODELS_BODY, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { proxyAgent, timedRequest, type TimedResponse } from './proxy-client';
import type { ProxyAgent } from 'undici';
import { REPO_ROOT } from './repo-root';
import { whereIsIt } from './stuck-process';
import { Ledger } from '../../supervisor/ledger/ledger';
import type { MoatEvent } from '../../schemas/generated/event';

export const MOAT_BIN = join(REPO_ROOT, 'bin', 'moat');

/**
 * The egress: block of a test chain: the given hosts mapped to the local fake provider, whose CA egress
 * trusts, and egress allowed to reach nothing else, so no test can send traffic past this machine.
 */
export function egressTo(providerPort: number, hosts: string[] = ['api.anthropic.com']): string {
  return [
    'egress:',
    `  allow: [${hosts.join(', ')}]`,
    '  resolve:',
    ...hosts.map((h) => `    "${h}:443": "127.0.0.1:${providerPort}"`),
    `  extra_ca: ["${PROVIDER_CA_FILE}"]`,
  ].join('\n');
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the run was killed for taking too long: what it was doing then (threads, wait channels, calls). */
  stuck?: string;
}

export class CliChain {
  // Made on first use: a describe whose hooks never run (mocha -g elsewhere) leaves no directory behind.
  private made?: { path: string; remove(): void };
  private get dir(): { path: string; remove(): void } {
    return (this.made ??= tmpDir('moat-e2e-'));
  }

  get home(): string {
    return join(this.dir.path, 'h');
  }

  /** Where `up` (below) writes its steps (MOAT_UP_TRACE). */
  get upTraceFile(): string {
    return join(this.dir.path, 'up-trace.log');
  }

  get configFile(): string {
    return join(this.dir.path, 'moat.yaml');
  }

  /** extraEnv: added to the CLI's environment (and so to the processes of the chain), e.g. a PATH with stand-ins. */
  constructor(
    readonly chainName = 'default',
    private readonly extraEnv: NodeJS.ProcessEnv = {},
  ) {}

  get layout(): StateLayout {
    return stateLayout(this.chainName, this.home);
  }

  writeConfig(yaml: string): void {
    writeFileSync(this.configFile, yaml);
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.extraEnv, MOAT_HOME: this.home };
  }

  /**
   * Runs `moat chain <args>` (with -f for the config) and collects its output. A run still going after timeoutMs is
   * killed; `stuck` then says what it was doing (stuck-process.ts).
   */
  cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
    const [command, ...rest] = args;
    const full = ['chain', command, '-f', this.configFile, ...rest];
    return new Promise((resolve) => {
      let stuck: string | undefined;
      const child = execFile(
        process.execPath,
        [MOAT_BIN, ...full],
        { env: { ...this.env, ...extraEnv }, cwd: this.dir.path, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          clearTimeout(timer);
          const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
          resolve({ code, stdout, stderr, ...(stuck === undefined ? {} : { stuck }) });
        },
      );
      const timer = setTimeout(() => {
        stuck = child.pid === undefined ? 'no pid' : whereIsIt(child.pid);
        child.kill('SIGTERM');
        // A CLI blocked in a system call, or deaf to SIGTERM, must not hold the test for ever.
        setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 5000).unref();
      }, timeoutMs);
    });
  }

  /** Like cli() but the output is streamed with timestamps per line (for SSE spacing). */
  cliLines(args: string[]): Promise<{ code: number; lines: { at: number; text: string }[] }> {
    const [command, ...rest] = args;
    const t0 = performance.now();
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [MOAT_BIN, 'chain', command, '-f', this.configFile, ...rest], {
        env: this.env,
        cwd: this.dir.path,
      });
      const lines: { at: number; text: string }[] = [];
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push({ at: performance.now() - t0, text: buf.slice(0, i) });
          buf = buf.slice(i + 1);
        }
      });
      child.on('close', (code) => resolve({ code: code ?? 1, lines }));
    });
  }

  /**
   * The ledger's events that `where` takes, read from the ledger file (read-only) every 100 ms until there are `count`
   * of them or 100 reads have been made.
   */
  async ledgerEvents(where: (e: MoatEvent) => boolean, count: number): Promise<MoatEvent[]> {
    for (let i = 0; ; i++) {
      const ledger = await Ledger.open(this.layout.ledgerFile, true);
      const rows = (await ledger.rows()).map((r) => JSON.parse(r.event) as MoatEvent).filter(where);
      await ledger.close();
      if (rows.length >= count || i >= 100) return rows;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** `moat chain events --json`: the ledger's events, parsed. */
  async events(): Promise<any[]> {
    const res = await this.cli(['events', '--json']);
    return res.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }

  /** `moat chain plan --json` of the config as it is (or of `yaml`, written first); it must succeed. */
  async plan(yaml?: string): Promise<any> {
    if (yaml !== undefined) this.writeConfig(yaml);
    const res = await this.cli(['plan', '--json']);
    expect(res.code, res.stderr).to.equal(0);
    return JSON.parse(res.stdout);
  }

  /** GET `url` through the chain: 200 with the fake provider's model list, exactly its bytes. */
  async expectModels(
    url = 'https://api.anthropic.com/v1/models',
    headers: Record<string, string> = {},
  ): Promise<TimedResponse> {
    const agent = await this.agent();
    try {
      const res = await timedRequest(agent, url, { headers });
      expect(res.status, res.body).to.equal(200);
      expect(res.body).to.equal(MODELS_BODY);
      return res;
    } finally {
      await agent.close();
    }
  }

  /**
   * A small Anthropic request (POST /v1/messages, JSON, max_tokens 20) with this content, through the chain;
   * `stream` asks for SSE, `query` is added to the path (the fake provider's events= and interval=).
   */
  async postMessage(
    content: string,
    headers: Record<string, string> = {},
    { stream = false, query = '' } = {},
  ): Promise<TimedResponse> {
    const agent = await this.agent();
    const messages = [{ role: 'user', content }];
    const body = stream
      ? { model: 'claude-x', max_tokens: 20, stream: true, messages }
      : { model: 'claude-x', max_tokens: 20, messages };
    try {
      return await timedRequest(agent, `https://api.anthropic.com/v1/messages${query}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers },
      });
    } finally {
      await agent.close();
    }
  }

  /**
   * `moat chain tap <hop> --json --count 1` around `during`: started first, `during` runs once it says it is tapping,
   * then its exit code and output once it has shown that one record.
   */
  async tapOne(hop: number, during: () => Promise<unknown>): Promise<CliResult> {
    const child = spawn(
      process.execPath,
      [MOAT_BIN, 'chain', 'tap', String(hop), '--json', '--count', '1', '-f', this.configFile],
      { env: this.env },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    for (let i = 0; i < 200 && !stderr.includes(`tapping hop ${hop}`); i++) await new Promise((r) => setTimeout(r, 25));
    try {
      await during();
    } catch (err) {
      child.kill();
      throw err;
    }
    const code = (await exited) ?? 1;
    return { code, stdout, stderr };
  }

  /** `moat chain up -d` (extraArgs after it, extraEnv added to its environment); throws unless it succeeds. */
  async up(extraEnv: NodeJS.ProcessEnv = {}, extraArgs: string[] = []): Promise<CliResult> {
    const t0 = performance.now();
    // Where `up` got to, with times (supervisor/chain/lifecycle.ts upStep): it has three times said nothing for 60 s
    // under CI's load (undiagnosed).
    const trace = this.upTraceFile;
    const res = await this.cli(['up', '-d', ...extraArgs], { MOAT_UP_TRACE: trace, ...extraEnv });
    if (res.code !== 0) {
      const log = join(this.layout.pm2Home, 'pm2.log');
      const daemon = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-30).join('\n') : '(no pm2.log)';
      const steps = existsSync(trace) ? readFileSync(trace, 'utf8') : '(no step written)';
      throw new Error(
        `moat chain up failed (${res.code}) after ${Math.round(performance.now() - t0)} ms:\n${res.stdout}\n` +
          `${res.stderr}\nup's steps:\n${steps}\npm2.log:\n${daemon}` +
          (res.stuck ? `\nwhat it was doing when killed:\n${res.stuck}` : ''),
      );
    }
    return res;
  }

  /** An HTTP client agent for the running chain: through its ingress, with its token, trusting the Moat CA. */
  async agent(): Promise<ProxyAgent> {
    const ingress = (await this.status()).find((r) => r.name === 'ingress');
    return proxyAgent(ingress.port, readFileSync(this.layout.tokenFile, 'utf8').trim(), this.layout.caCertFile);
  }

  async status(): Promise<any[]> {
    const res = await this.cli(['status', '--json']);
    if (res.code !== 0) throw new Error(`status failed: ${res.stderr}`);
    return JSON.parse(res.stdout);
  }

  daemonPid(): number | undefined {
    const file = join(this.layout.pm2Home, 'pm2.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8')) : undefined;
  }

  async cleanup(): Promise<void> {
    await this.cli(['down']);
    // Whatever survived a failing test is killed here, so no test leaves processes behind.
    const pid = this.daemonPid();
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    // A daemon killed that way leaves its children (nats-server, hops) behind: every process started with a
    // path under this chain's home goes too.
    if (this.made) for (const orphan of processesMentioning(this.home)) process.kill(orphan, 'SIGKILL');
    this.made?.remove();
  }
}

/**
 * Pids whose command line, working directory or environment contains `text` (this process excluded): pm2 rewrites
 * its apps' command lines (the spec path is blanked), but their cwd and PM2_HOME still name the chain's home.
 */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const mentions = (what: () => string) => {
      try {
        return what().includes(text);
      } catch {
        return false; // gone meanwhile, or another user's
      }
    };
    if (
      mentions(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8')) ||
      mentions(() => readlinkSync(`/proc/${pid}/cwd`)) ||
      mentions(() => readFileSync(`/proc/${pid}/environ`, 'latin1'))
    )
      pids.push(pid);
  }
  return pids;
}

/** A zombie (exited, not yet reaped by init) counts as gone, as it does for `down`. */
export { isAlive };
