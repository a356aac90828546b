// `moat ledger serve` run by a test as a child process (the real CLI), its output collected; killed by the test.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { MOAT_BIN } from './cli-chain';

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
