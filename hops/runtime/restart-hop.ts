// Restarting a hung process: SIGKILL (which also ends a SIGSTOPped one) and pm2, which runs every process of the
// chain with autorestart, starts it again. The process is found by the port it listens on (/proc/net/tcp, then the
// descriptors of the chain's own processes), and only among the apps of this chain's pm2 (PM2_HOME in their
// environment, hops/runtime/chain-processes.ts), so nothing else on the machine is ever signalled.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chainProcesses } from './chain-processes';

/** The inode of the socket listening on 127.0.0.1:port (or on every address), from /proc/net/tcp. */
export function listeningInode(port: number, table: string): string | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[3] === '0A' && (f[1] === `0100007F:${hex}` || f[1] === `00000000:${hex}`)) return f[9];
  }
  return undefined;
}

/** The pid of this chain's pm2 app that listens on `port`; undefined when none does (down already, or not ours). */
export function chainListenerPid(port: number, pm2Home: string, proc = '/proc'): number | undefined {
  let inode: string | undefined;
  try {
    inode = listeningInode(port, readFileSync(`${proc}/net/tcp`, 'utf8'));
  } catch {
    return undefined;
  }
  if (!inode) return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of chainProcesses(pm2Home, proc)) {
    try {
      for (const fd of readdirSync(`${proc}/${pid}/fd`)) {
        if (readlinkSync(`${proc}/${pid}/fd/${fd}`) === target) return pid;
      }
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** SIGKILL to the chain's process listening on `port`; returns its pid, or undefined when none was found. */
export function killListener(port: number, pm2Home: string): number | undefined {
  const pid = chainListenerPid(port, pm2Home);
  if (pid === undefined || pid === process.pid) return undefined;
  try {
    process.kill(pid, 'SIGKILL');
    return pid;
  } catch {
    return undefined;
  }
}
