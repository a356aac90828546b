// A write-ahead file for the event publisher. An event waits in memory for NATS to store it (20 ms
// of batching plus a round trip, longer while NATS is away); a process killed then (kill -9, the
// OOM killer) lost those events, although the requests they describe had been answered (seen in the
// resilience suite: 200s without their response event). So publish() first appends the event to a
// file here, synchronously (the page cache survives the process), and the next run of the same
// process sends whatever its predecessor left. Sending an event twice is harmless: JetStream drops
// a repeated msgID and the ledger writer skips ids it has stored.
//
// Files ("segments") are append-only and removed once every event in them is stored or given up;
// a new one is started every SEGMENT_BYTES, so the spool holds about what the queue holds.
//
// An event that must be on disk before something else happens (a response event, before the response's last bytes
// leave) is written at once, with every line appended before it. Others (a request's event, which answers nothing)
// may wait for the end of the event loop's turn: a busy process then writes a turn's lines with one system call
// instead of one each (a write was 4% of a recording process's CPU, docs/benchmarks.md). A process that exits in that
// turn (an uncaught exception, process.exit) writes them first; one killed (SIGKILL) then loses them. A request event
// recorded before its response's event is written with it at the latest; one recorded after (a request answered before
// its body ended) waits like any other.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const SEGMENT_BYTES = 4 << 20;
const SUFFIX = '.jsonl';

/** One file of the spool: an event taken from it is released exactly once, when stored or dropped. */
export interface SpoolSegment {
  readonly file: string;
  pending: number;
  closed: boolean;
}

export interface RecoveredEvent {
  text: string;
  segment: SpoolSegment;
}

/** When an appended line must be on disk: before append() returns, or by the end of this turn of the event loop. */
export type SpoolWhen = 'now' | 'this turn';

export class EventSpool {
  private active?: SpoolSegment & { fd: number; bytes: number };
  private next = 0;
  private broken = false;
  /** Lines of the active segment appended and not yet written, in order (while any wait, the spool is in `waiting`). */
  private unwritten: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * The events a previous run of this process left (oldest first, a line cut short by the kill skipped).
   * Call once, before append(): their segments are removed once each event is released.
   */
  recover(): RecoveredEvent[] {
    const recovered: RecoveredEvent[] = [];
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const names = readdirSync(this.dir)
        .filter((n) => n.endsWith(SUFFIX))
        .sort(bySequence);
      this.next = names.length ? sequenceOf(names[names.length - 1]) + 1 : 0;
      for (const name of names) {
        const segment: SpoolSegment = { file: join(this.dir, name), pending: 0, closed: true };
        const lines = readFileSync(segment.file, 'utf8').split('\n').filter(isCompleteJson);
        if (lines.length === 0) removeQuietly(segment.file);
        for (const text of lines) {
          segment.pending++;
          recovered.push({ text, segment });
        }
      }
    } catch (err) {
      this.fail(err as Error);
    }
    return recovered;
  }

  /**
   * Writes one event (JSON, no newline), now or by the end of this turn; undefined when the spool is unusable (the
   * event then lives in memory only).
   */
  append(text: string, when: SpoolWhen = 'now'): SpoolSegment | undefined {
    if (this.broken) return undefined;
    try {
      const segment = this.active && this.active.bytes < SEGMENT_BYTES ? this.active : this.rotate();
      this.unwritten.push(text);
      if (when === 'now') this.flush();
      else this.queueFlush();
      // Counted once it is written or queued: an event whose write failed is in no segment (the caller gets none).
      segment.bytes += Buffer.byteLength(text) + 1;
      segment.pending++;
      return segment;
    } catch (err) {
      return this.fail(err as Error);
    }
  }

  /**
   * By the end of this turn, or when the process exits before it (an uncaught exception, process.exit): a request
   * that crashed this process keeps its event, which the next run sends.
   */
  private queueFlush(): void {
    if (waiting.has(this)) return;
    waiting.add(this);
    watchExit();
    setImmediate(() => this.flushQuietly());
  }

  /** Writes every line appended and not yet written, in one call. */
  private flush(): void {
    if (this.unwritten.length === 0 || !this.active) return;
    const text = this.unwritten.join('\n') + '\n';
    this.unwritten = [];
    writeSync(this.active.fd, text);
  }

  /** flush(), a failure making the spool unusable instead of throwing (also what the process's exit calls). */
  flushQuietly(): void {
    waiting.delete(this);
    if (this.broken) return;
    try {
      this.flush();
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** One event of `segment` is stored (or dropped and counted in a gap): the file goes once none is left. */
  release(segment: SpoolSegment | undefined): void {
    if (!segment) return;
    segment.pending--;
    if (segment.closed && segment.pending === 0) removeQuietly(segment.file);
  }

  close(): void {
    if (!this.active) return;
    this.flushQuietly();
    closeSync(this.active.fd);
    this.active.closed = true;
    if (this.active.pending === 0) removeQuietly(this.active.file);
    this.active = undefined;
  }

  private rotate(): SpoolSegment & { fd: number; bytes: number } {
    this.close();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, `${this.next++}${SUFFIX}`);
    this.active = { file, fd: openSync(file, 'a', 0o600), bytes: 0, pending: 0, closed: false };
    return this.active;
  }

  private fail(err: Error): undefined {
    this.broken = true;
    this.unwritten = [];
    this.log(`events: spool ${this.dir} unusable (${err.message}); events wait in memory only`);
    return undefined;
  }
}

/** Spools with lines waiting for the end of the turn; written when the process exits for whatever reason. */
const waiting = new Set<EventSpool>();
let flushOnExit = false;

function watchExit(): void {
  if (flushOnExit) return;
  flushOnExit = true;
  process.on('exit', () => {
    for (const spool of [...waiting]) spool.flushQuietly();
  });
}

function sequenceOf(name: string): number {
  return Number(name.slice(0, -SUFFIX.length)) || 0;
}

function bySequence(a: string, b: string): number {
  return sequenceOf(a) - sequenceOf(b);
}

/** A line a kill did not cut short (the last line of a segment may be). */
function isCompleteJson(line: string): boolean {
  if (!line) return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
