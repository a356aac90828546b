// Runs a mocha file inside new user, network and mount namespaces where /etc/hosts is the test's own: names resolve
// to the addresses a test chooses (loopback, a metadata or private address) without a DNS server, and the network
// namespace has only `lo`, so no connection can leave this machine, whatever the code under test gets wrong. In a
// PID namespace of its own too: whatever the file starts (a chain under pm2) ends with it.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from './tmp';
import { REPO_ROOT } from './repo-root';

const MOCHA = join(REPO_ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');

/** Whether this system gives an unprivileged user these namespaces (as `moat chain run --transparent` needs). */
export function hostsNamespaceAvailable(): boolean {
  const probe = spawnSync(
    'unshare',
    ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', 'ip link set lo up'],
    { timeout: 10_000 },
  );
  return probe.status === 0;
}

/**
 * Runs `mocha file` in the namespaces with `hosts` as /etc/hosts; resolves with its exit code and output.
 * `addresses`: IPv4 addresses put on the namespace's `lo` (a stand-in for a public server: it is the namespace's own).
 */
export function mochaWithHosts(
  file: string,
  hosts: string,
  timeoutMs: number,
  addresses: string[] = [],
): Promise<{ code: number; output: string }> {
  const dir = tmpDir('moat-hosts-');
  const hostsFile = join(dir.path, 'hosts');
  writeFileSync(hostsFile, hosts);
  // lo up (127.0.0.1 and ::1), the hosts file over /etc/hosts (private mount propagation: nothing leaks out), then
  // mocha.
  const addAddresses = addresses.map((a) => `ip addr add ${a}/32 dev lo && `).join('');
  const script = `ip link set lo up && ${addAddresses}mount --bind "$1" /etc/hosts && shift && exec "$@"`;
  const child = spawn(
    'unshare',
    [
      '--user',
      '--map-root-user',
      '--net',
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--mount-proc',
      '--fork',
      '--kill-child',
      'sh',
      '-c',
      script,
      'sh',
      hostsFile,
      process.execPath,
      MOCHA,
      '--timeout',
      String(timeoutMs),
      '--exit',
      file,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      dir.remove();
      resolve({ code: code ?? 1, output });
    });
  });
}
