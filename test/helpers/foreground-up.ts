// `moat chain up` in the foreground, on a chain fixture of moat-telemetry alone that the test starts itself: its
// output collected, and the process killed before the chain's cleanup when a failing assertion left it running.
import { spawn, type ChildProcess } from 'node:child_process';
import { MOAT_BIN, egressTo, type CliChain } from './cli-chain';
import { chainFixture } from './chain-fixture';

export interface ForegroundUp {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they came. */
  output(): string;
  exited: Promise<number | null>;
}

/** Call at describe level (it adds the fixture's hooks); start() in a test. */
export function foregroundUpFixture(): { chain: CliChain; start(): ForegroundUp } {
  let child: ChildProcess | undefined;
  const { chain } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry]\n${egressTo(provider.port)}\n`,
    up: false,
    beforeCleanup: () => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    },
  });
  return {
    chain,
    start() {
      const started = spawn(process.execPath, [MOAT_BIN, 'chain', 'up', '-f', chain.configFile], { env: chain.env });
      child = started;
      let out = '';
      started.stdout.on('data', (d) => (out += d));
      started.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => started.on('exit', (code) => r(code)));
      return { child: started, output: () => out, exited };
    },
  };
}
