// What /proc says about a process: its open file descriptors and when it started.
import { readdirSync, readFileSync } from 'node:fs';

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux

/**
 * When a process started, on this process's performance.now() clock, to 10 ms. Its starttime (field 22
 * of /proc/<pid>/stat) counts clock ticks since boot, as /proc/uptime counts seconds: read together with
 * performance.now(), the two put it on our clock without the 1 s rounding of the boot time.
 */
export function startedAtPerf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (which may hold spaces and parentheses) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startS = Number(fields[22 - 3]) / CLOCK_TICKS_PER_S;
  const now = performance.now();
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return now - (uptimeS - startS) * 1000;
}
