// What a process that stopped making progress is doing, read from /proc before a test kills it: its state, and for
// each thread the kernel function it waits in and its system call (the kernel stack too where readable, as root).
// For `up`'s rare silent minute in CI (cli-chain.ts): a blocked main thread tells which call blocked it.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { findOnPath } from '../../supervisor/chain/find-on-path';

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    return `(${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`;
  }
}

/** The thread's state letter (R running, S sleeping, D in uninterruptible I/O, T stopped) from its stat line. */
function stateOf(stat: string): string {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
}

/**
 * A few lines per thread: name, state, wait channel, system call (number and arguments), kernel stack; then the same
 * for its children (a process waiting on one shows it there).
 */
export function whereIsIt(pid: number, depth = 1): string {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return `pid ${pid}: gone`;
  }
  const lines = [`pid ${pid}: ${read(`/proc/${pid}/cmdline`).split('\0').join(' ').slice(0, 200)}`];
  for (const tid of tids) {
    const task = `/proc/${pid}/task/${tid}`;
    lines.push(
      `  thread ${tid} ${read(`${task}/comm`)}: state ${stateOf(read(`${task}/stat`))}, wchan ` +
        `${read(`${task}/wchan`)}, syscall ${read(`${task}/syscall`)}`,
    );
    const stack = read(`${task}/stack`);
    if (stack && !stack.startsWith('(')) lines.push(...stack.split('\n').map((l) => `    ${l}`));
  }
  if (depth > 0) lines.push(nativeStacks(pid));
  if (depth > 0) {
    const children = tids.flatMap((tid) => read(`/proc/${pid}/task/${tid}/children`).split(/\s+/).filter(Boolean));
    for (const child of children) if (/^\d+$/.test(child)) lines.push(whereIsIt(Number(child), depth - 1));
  }
  return lines.join('\n');
}

/**
 * Every thread's native stack from gdb (where it is installed; .ci/run installs it): which call holds a blocked main
 * thread, and the lock's owner. CI's silent `up` was found so far in a futex wait (a pthread mutex) on its main thread.
 */
function nativeStacks(pid: number): string {
  const gdb = findOnPath('gdb');
  if (!gdb) return '  (no gdb here for native stacks)';
  try {
    const out = execFileSync(gdb, ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt 40'], {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kept = out.split('\n').filter((l) => /^(Thread |#\d)/.test(l));
    return ['  native stacks (gdb):', ...kept.slice(0, 300).map((l) => `    ${l.slice(0, 240)}`)].join('\n');
  } catch (err) {
    return `  (gdb failed: ${(err as Error).message.split('\n')[0]})`;
  }
}
