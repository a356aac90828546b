// `moat ledger ...` run by a test as a child process (the real CLI), its output collected: a command that ends
// (ledgerCli), and `moat ledger serve`, which stays until the test kills it.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { MOAT_BIN, type CliResult } from './cli-chain';

/** `moat ledger <args>` with `env` added to this process's environment, once it has exited. */
export function ledgerCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MOAT_BIN, 'ledger', ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** `moat ledger serve` as a child process, its output collected. */
export class Serve {
  output = '';
  private child?: ChildProcess;

  constructor(
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [MOAT_BIN, 'ledger', 'serve', ...this.args], {
      env: { ...process.env, ...this.env },
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    for (let i = 0; i < 200 && !this.output.includes('ledger serve: '); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(this.output, this.output).to.contain('ledger serve: ');
  }

  get pid(): number {
    return this.child!.pid!;
  }

  kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}
