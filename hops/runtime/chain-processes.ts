// The processes of one chain, found without pm2: every process pm2 starts carries PM2_HOME in its
// environment, and each chain has a PM2_HOME of its own. `down` uses it to stop what a dead daemon
// left running (a daemon killed with -9, or one that died while restarting an app, orphans its apps).
import { readdirSync, readFileSync } from 'node:fs';

/** True when a /proc environ block (NUL-separated) holds exactly `name=value`. */
export function environHas(environ: string, name: string, value: string): boolean {
  return environ.split('\0').includes(`${name}=${value}`);
}

/** An environment of an app pm2 started under pm2Home. */
export function isChainApp(environ: string, pm2Home: string): boolean {
  const vars = environ.split('\0');
  return vars.includes(`PM2_HOME=${pm2Home}`) && vars.some((v) => v.startsWith(`pm_pid_path=${pm2Home}/pids/`));
}

/**
 * Pids (this process excluded) that pm2 started for this chain: PM2_HOME=pm2Home and pm2's own pid-file entry under
 * it (pm_pid_path), which a shell that merely exported PM2_HOME to run `pm2 ls` does not have. Linux /proc, same user.
 */
export function chainProcesses(pm2Home: string, proc = '/proc'): number[] {
  return processesWhere(proc, (read) => isChainApp(read('environ'), pm2Home));
}

/**
 * The pm2 daemon of this chain: a process pm2 titled (`PM2 v<version>: God Daemon (...)`, cut to the length of its
 * first command line) with PM2_HOME=pm2Home in its environment. A pid file may be missing (a daemon that has not
 * written it yet) or name a pid reused since.
 */
export function chainDaemons(pm2Home: string, proc = '/proc'): number[] {
  return processesWhere(
    proc,
    (read) => read('cmdline').startsWith('PM2 v') && environHas(read('environ'), 'PM2_HOME', pm2Home),
  );
}

/** The pids under proc (this process excluded) whose files `matches` accepts; none without /proc (not Linux). */
function processesWhere(proc: string, matches: (read: (file: string) => string) => boolean): number[] {
  let names: string[];
  try {
    names = readdirSync(proc);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (matches((file) => readFileSync(`${proc}/${pid}/${file}`, 'latin1'))) pids.push(pid);
    } catch {
      // gone meanwhile, or another user's
    }
  }
  return pids;
}

/** SIGTERM to each, then SIGKILL to what is still there after graceMs. Resolves with the pids signalled. */
export async function stopProcesses(pids: number[], graceMs = 2000): Promise<number[]> {
  const signalled = pids.filter((pid) => signal(pid, 'SIGTERM'));
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && signalled.some(isAlive)) await new Promise((r) => setTimeout(r, 20));
  const stubborn = signalled.filter(isAlive);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  // SIGKILL is delivered at once but a process takes a moment to go; `down` returns when they have.
  const gone = Date.now() + 1000;
  while (Date.now() < gone && stubborn.some(isAlive)) await new Promise((r) => setTimeout(r, 10));
  return signalled;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether pid is a running process (one of another user's counts: it exists). A zombie is not: it has
 * exited and only waits to be reaped, which for a chain process whose pm2 daemon died is init's job, and
 * some inits take seconds (seen here: `down` waited for, then reported, processes that had ended).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Linux's process state from /proc; elsewhere (no /proc) nothing is taken for a zombie. */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
