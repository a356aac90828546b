// The fake provider as the benches run it: its own process (so its CPU is not the client's), on 127.0.0.1, its port
// read from the first line it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/repo-root';

/** checkout: a built tree whose dist/ holds the fake provider (the benches' own by default). */
export function startProvider(checkout = REPO_ROOT): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(checkout, 'dist', 'test', 'fixtures', 'fake-provider.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, port: (JSON.parse(out.split('\n')[0]) as { port: number }).port });
    });
    child.once('exit', (code) => reject(new Error(`fake provider exited (${code}) before printing its port`)));
  });
}
