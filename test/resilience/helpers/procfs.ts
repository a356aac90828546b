// What /proc says about a process: its open file descriptors and when it started.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/**
 * What a process's descriptors are, for a failure message: "socket 127.0.0.1:A -> 127.0.0.1:B STATE",
 * or the path a descriptor names.
 */
export function describeFds(pid: number): string[] {
  const sockets = new Map<string, string>();
  const states: Record<string, string> = {
    '01': 'ESTABLISHED',
    '06': 'TIME_WAIT',
    '07': 'CLOSE',
    '08': 'CLOSE_WAIT',
    '0A': 'LISTEN',
    '04': 'FIN_WAIT1',
    '05': 'FIN_WAIT2',
    '09': 'LAST_ACK',
  };
  const port = (hex: string) => parseInt(hex.split(':')[1], 16);
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9) sockets.set(f[9], `tcp :${port(f[1])} -> :${port(f[2])} ${states[f[3]] ?? f[3]}`);
    }
  }
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    let target = '?';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    return `${fd}: ${inode ? (sockets.get(inode) ?? target) : target}`;
  });
}
