// `moat chain bisect TRACE`: which hop's absence changes a request's outcome. The request is replayed once through
// the whole chain (the baseline), then once with each hop skipped in turn (replay --skip-hop); a replay whose status,
// error, body fields (a stream's events, sse-body.ts) or marks (a hop changed the cacheable prefix, buffered or changed
// the stream: event-marks.ts) differ from the baseline's names its hop. Body fields and marks that already differ
// between the recorded trace and the baseline (ids, timestamps, timing: variation no hop is to blame for) are not
// counted. Pure; bisect-command.ts does the I/O.
import { redactSecrets } from '../../hops/events/redact';
import type { MoatEvent } from '../../schemas/generated/event';
import { eventMarks } from '../ledger/event-marks';
import { bodyChanges } from '../ledger/tap-view';
import type { ReplayedResponse } from './replay';
import { comparableBody } from './sse-body';

/** A response's error: moat's x-moat-error, else the body's `error` (a string, or an object's type or message). */
export function responseError(r: ReplayedResponse): string | undefined {
  const header = r.headers['x-moat-error'];
  if (typeof header === 'string' && header) return header;
  try {
    const body = JSON.parse(r.body) as { error?: unknown };
    const e = body?.error;
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object') {
      const o = e as { type?: unknown; message?: unknown };
      if (typeof o.type === 'string') return o.type;
      if (typeof o.message === 'string') return o.message;
    }
  } catch {
    // not JSON: no error field
  }
  return undefined;
}

/** The field a bodyChanges line is about: `+rewritten: true` -> rewritten, `-x` -> x, `model: "a" -> "b"` -> model. */
export function changedField(line: string): string {
  return line.replace(/^[+-]/, '').split(':')[0];
}

/** A mark the chain recorded for a trace, with the hop that did it: `stream_buffered at hop 2`. */
export type TraceMark = string;

/** The marks of one trace's events (event-marks.ts), each once, sorted. */
export function traceMarks(events: readonly MoatEvent[]): TraceMark[] {
  const byId = eventMarks(events);
  const marks = new Set<TraceMark>();
  for (const e of events) for (const m of byId.get(e.id) ?? []) marks.add(`${m} at hop ${e.hop}`);
  return [...marks].sort();
}

/** The marks that differ between the recorded trace and the baseline replay: timing no hop is to blame for. */
export function noisyMarks(recorded: readonly TraceMark[], baseline: readonly TraceMark[]): Set<TraceMark> {
  return new Set([...recorded.filter((m) => !baseline.includes(m)), ...baseline.filter((m) => !recorded.includes(m))]);
}

/** The marks of a baseline and of a replay without a hop, and those that vary anyway. */
export interface MarkSets {
  baseline: readonly TraceMark[];
  replayed: readonly TraceMark[];
  noisy: ReadonlySet<TraceMark>;
}

export interface OutcomeChange {
  status?: { baseline: number; replayed: number };
  error?: { baseline?: string; replayed?: string };
  /** bodyChanges lines, the noisy fields left out. */
  body: string[];
  /** Marks the baseline had and the replay not (gone), or the other way round (appeared); the noisy left out. */
  marks?: { gone: TraceMark[]; appeared: TraceMark[] };
}

const bodyOf = (r: ReplayedResponse) => comparableBody(redactSecrets(r.body), r.headers['content-type']);

/** How `replayed` differs from `baseline`; undefined when its outcome is the same. `noisy`: fields that vary anyway. */
export function outcomeChange(
  baseline: ReplayedResponse,
  replayed: ReplayedResponse,
  noisy: ReadonlySet<string>,
  marks?: MarkSets,
): OutcomeChange | undefined {
  const change: OutcomeChange = { body: [] };
  if (baseline.status !== replayed.status) change.status = { baseline: baseline.status, replayed: replayed.status };
  const [e1, e2] = [responseError(baseline), responseError(replayed)];
  if (e1 !== e2) change.error = { baseline: e1, replayed: e2 };
  // Masked as records are, so a secret in a response is never printed.
  change.body = bodyChanges(bodyOf(baseline), bodyOf(replayed)).filter((line) => !noisy.has(changedField(line)));
  if (marks) {
    const counted = (m: TraceMark) => !marks.noisy.has(m);
    const gone = marks.baseline.filter((m) => counted(m) && !marks.replayed.includes(m));
    const appeared = marks.replayed.filter((m) => counted(m) && !marks.baseline.includes(m));
    if (gone.length || appeared.length) change.marks = { gone, appeared };
  }
  return change.status || change.error || change.body.length || change.marks ? change : undefined;
}

/**
 * The fields that differ between the recorded response and the baseline replay: variation no hop is to blame for.
 * `recordedType`: the recorded response's content type (a stream is compared by its events), else the baseline's.
 */
export function noisyFields(
  recordedBody: string | undefined,
  baseline: ReplayedResponse,
  recordedType: unknown = baseline.headers['content-type'],
): Set<string> {
  if (recordedBody === undefined) return new Set();
  return new Set(bodyChanges(comparableBody(recordedBody, recordedType), bodyOf(baseline)).map(changedField));
}

export type HopVerdict =
  | { hop: number; name: string; skippable: false; policy: boolean; reason: string }
  | { hop: number; name: string; skippable: true; skipped: boolean; replay_trace: string; change?: OutcomeChange };

export interface BisectReport {
  trace: string;
  baseline: { replay_trace: string; status: number; error?: string; marks?: TraceMark[] };
  /** A replay whose events the ledger did not hold in time: its marks may be missing. */
  warnings?: string[];
  hops: HopVerdict[];
  /** The hops whose absence changes the outcome. */
  culprits: number[];
}

export function culprits(hops: readonly HopVerdict[]): number[] {
  return hops.filter((h) => h.skippable && h.skipped && h.change).map((h) => h.hop);
}

function describeChange(c: OutcomeChange): string {
  const parts: string[] = [];
  if (c.status) parts.push(`status ${c.status.baseline} -> ${c.status.replayed}`);
  if (c.error) parts.push(`error ${c.error.baseline ?? '-'} -> ${c.error.replayed ?? '-'}`);
  if (c.body.length) parts.push(`body ${c.body.join(', ')}`);
  if (c.marks)
    parts.push(
      `mark ${[...c.marks.gone.map((m) => `${m} gone`), ...c.marks.appeared.map((m) => `${m} appeared`)].join(', ')}`,
    );
  return parts.join('; ');
}

export function formatBisect(r: BisectReport): string {
  const b = r.baseline;
  const lines = [
    `bisect trace ${r.trace}: baseline replay ${b.replay_trace} through every hop: status ${b.status}` +
      `${b.error ? `, error ${b.error}` : ''}${b.marks?.length ? `, marks ${b.marks.join(', ')}` : ''}`,
  ];
  for (const h of r.hops) {
    const label = `  hop ${h.hop} (${h.name})`;
    if (!h.skippable) lines.push(`${label}: not skippable: ${h.reason}`);
    else if (!h.skipped)
      lines.push(`${label}: not skipped (its process did not take the ask; moat chain logs ${h.hop})`);
    else if (h.change) lines.push(`${label}: without it the outcome changes: ${describeChange(h.change)}`);
    else lines.push(`${label}: without it the outcome is the same`);
  }
  for (const w of r.warnings ?? []) lines.push(`  warning: ${w}`);
  const named = r.hops.filter((h) => r.culprits.includes(h.hop)).map((h) => `hop ${h.hop} (${h.name})`);
  lines.push(
    named.length
      ? `the outcome depends on ${named.join(', ')}`
      : 'no skippable hop changes the outcome (policy hops are never skipped)',
  );
  return lines.join('\n');
}
