// The machine's processes as /proc shows them: which are below a given one, and what each was started with.
import { readdirSync, readFileSync } from 'node:fs';

/** pid -> parent pid, for every process on this machine. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      out.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const byParent = parents();
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, parent] of byParent) if (parent === out[i]) out.push(child);
  return out;
}

/** Its command line, arguments joined by spaces; empty once it has exited. */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}
