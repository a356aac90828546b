// What a process that stopped making progress is doing, read from /proc before a test kills it: its state, and for
// each thread the kernel function it waits in and its system call (the kernel stack too where readable, as root).
// For `up`'s rare silent minute in CI (cli-chain.ts): a blocked main thread tells which call blocked it.
import { readFileSync, readdirSync } from 'node:fs';

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
  if (depth > 0) {
    const children = tids.flatMap((tid) => read(`/proc/${pid}/task/${tid}/children`).split(/\s+/).filter(Boolean));
    for (const child of children) if (/^\d+$/.test(child)) lines.push(whereIsIt(Number(child), depth - 1));
  }
  return lines.join('\n');
}
