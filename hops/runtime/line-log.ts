// The log lines of a Moat process, written to stdout in batches. pm2 reads the pipe and handles every
// read on its own (a timestamp per line, a file write, a bus message): moat-telemetry's one line per
// request, written one at a time, cost pm2's daemon ~0.3 ms CPU per request at c=32
// (docs/benchmarks.md). Lines wait at most FLUSH_MS and go out in order; exit flushes what is left.
const FLUSH_MS = 20;
const MAX_HELD_BYTES = 64 * 1024;

export interface LineLog {
  log(line: string): void;
  flush(): void;
}

/**
 * To stdout, errors ignored as console.log ignores them: a pm2 daemon killed with -9 leaves its processes
 * running with a broken pipe (EPIPE), and a log line must not take them down.
 */
function toStdout(text: string): void {
  if (process.stdout.listenerCount('error') === 0) process.stdout.on('error', () => undefined);
  process.stdout.write(text);
}

export function batchedLineLog(write: (text: string) => void = toStdout): LineLog {
  let held: string[] = [];
  let heldBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (held.length === 0) return;
    const text = held.join('');
    held = [];
    heldBytes = 0;
    write(text);
  };
  return {
    log(line: string) {
      held.push(line + '\n');
      heldBytes += line.length + 1;
      if (heldBytes >= MAX_HELD_BYTES) return flush();
      timer ??= setTimeout(flush, FLUSH_MS).unref();
    },
    flush,
  };
}

/** The log of a Moat process: batched to stdout, and flushed when the process exits for whatever reason. */
export function processLineLog(write: (text: string) => void = toStdout): LineLog {
  const lines = batchedLineLog(write);
  // 'exit' also follows process.exit() and an uncaught exception: no line is left behind.
  process.on('exit', () => lines.flush());
  return lines;
}
