// A shared NATS for tests of central ledgers: nats-server with JetStream on 127.0.0.1 (a free port), one user `moat`
// with a password, its store under `storeDir`; the test kills it (SIGKILL) in its after hook.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitForPort } from '../../supervisor/chain/ports';

export async function passwordNats(
  storeDir: string,
  password: string,
): Promise<{ process: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(
    'nats-server',
    ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, '--user', 'moat', '--pass', password],
    { stdio: 'ignore' },
  );
  expect(await waitForPort(port, 10_000)).to.equal(true);
  return { process: child, url: `nats://moat:${password}@127.0.0.1:${port}` };
}
