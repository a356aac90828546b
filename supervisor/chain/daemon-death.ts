// What `status` (and every command that needs a running chain) says when the chain's pm2 daemon died: its Moat
// processes noticed and exited (hops/runtime/parent-watch.ts), so the chain serves nothing and nothing supervises it,
// while processes pm2 started directly (nats-server, third-party hops without isolation) may still run until `down`
// stops them (chain-processes.ts). A daemon died when `up` left its token (`down` removes it) and pm2.pid names a
// process that is gone: pm2 removes that file when it stops normally.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MoatError } from '../errors';
import { chainProcesses, isAlive } from '../../hops/runtime/chain-processes';
import type { StateLayout } from './state';

export interface Leftover {
  pid: number;
  /** Its command line, shortened. */
  command: string;
}

/** The message of MOAT_ERR_DAEMON_DIED (pure). */
export function daemonDiedMessage(daemonPid: number, leftovers: readonly Leftover[]): string {
  const head = `chain stopped: its pm2 daemon died (pid ${daemonPid})`;
  const next = 'run `moat chain down`, then `moat chain up`';
  if (leftovers.length === 0)
    return `${head}; every process of the chain exited with it, so nothing serves and nothing is supervised; ${next}`;
  const list = leftovers.map((l) => `${l.command} (pid ${l.pid})`).join(', ');
  const n = leftovers.length === 1 ? '1 process' : `${leftovers.length} processes`;
  return (
    `${head}; Moat's processes exit with it, but ${n} pm2 started still ` +
    `run${leftovers.length === 1 ? 's' : ''} unsupervised: ${list}; ${next} (down stops them)`
  );
}

/** A command line from /proc as one short line (pure). */
export function shortCommand(cmdline: string, max = 60): string {
  const text = cmdline.split('\0').join(' ').replace(/\s+/g, ' ').trim();
  return text.length > max ? text.slice(0, max - 3) + '...' : text;
}

/** The pid of the chain's pm2 daemon when it died without `down`, else undefined. */
export function deadDaemonPid(layout: StateLayout): number | undefined {
  const pidFile = join(layout.pm2Home, 'pm2.pid');
  if (!existsSync(layout.tokenFile) || !existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return isAlive(pid) ? undefined : pid;
}

/** MOAT_ERR_DAEMON_DIED naming what still runs, when the chain's daemon died; else undefined. */
export function daemonDiedError(layout: StateLayout): MoatError | undefined {
  const pid = deadDaemonPid(layout);
  if (pid === undefined) return undefined;
  const leftovers = chainProcesses(layout.pm2Home).map((p) => ({ pid: p, command: commandOf(p) }));
  return new MoatError('MOAT_ERR_DAEMON_DIED', daemonDiedMessage(pid, leftovers));
}

function commandOf(pid: number): string {
  try {
    return shortCommand(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return '?';
  }
}
