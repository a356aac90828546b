// A Moat process serves only while pm2 supervises it. pm2 starts its apps as children of its daemon (fork mode); when
// the daemon dies (kill -9, the OOM killer), its apps are orphaned: nothing restarts a crashed hop, `status` cannot see
// them, and egress would go on injecting the real key for whoever still reaches it. So every Moat process (links,
// built-in hops, egress, the ledger writer, the dashboard, an isolated hop's wrapper) checks on an unref'd timer
// whether its parent is still the process that started it, and exits when it is not; `status` then says the chain
// stopped (supervisor/chain/daemon-death.ts). Node's process.ppid is read once at start, so the parent is read from
// /proc/self/stat; without /proc, whether the first parent still exists.
import { readFileSync } from 'node:fs';

/** How often the parent is checked: the chain stops serving within about this long after the daemon died. */
export const PARENT_CHECK_MS = 500;

/** The parent pid in a /proc/<pid>/stat line (pure): the 2nd field after the command name, which may hold ") ". */
export function parentPidOfStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  if (!Number.isInteger(ppid)) throw new Error(`no parent pid in /proc stat line "${stat.slice(0, 80)}"`);
  return ppid;
}

/** Whether the process that started this one is still its parent. */
export function parentAlive(firstParent: number, proc = '/proc'): boolean {
  let stat: string;
  try {
    stat = readFileSync(`${proc}/self/stat`, 'utf8');
  } catch {
    try {
      process.kill(firstParent, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  return parentPidOfStat(stat) === firstParent;
}

/**
 * Calls onGone (default: exit at once; what a process had not written yet is in its spool) once this process's
 * parent is gone. Also checked the moment pm2's IPC channel closes, which it does when the daemon dies. Returns a
 * function that stops watching.
 */
export function exitWithParent(
  onGone: (parent: number) => void = () => process.exit(PARENT_GONE_EXIT),
  intervalMs = PARENT_CHECK_MS,
): () => void {
  const parent = process.ppid;
  let done = false;
  const check = () => {
    if (done || parentAlive(parent)) return;
    stop();
    onGone(parent);
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  process.on('disconnect', check);
  const stop = () => {
    done = true;
    clearInterval(timer);
    process.off('disconnect', check);
  };
  return stop;
}

/**
 * The exit status of a process whose supervisor died (nobody reads it; it tells such an exit apart in a core or a
 * trace).
 */
export const PARENT_GONE_EXIT = 75;
