// `moat chain verify | events | tap`: reading the ledger and the live event stream.
import { existsSync, readFileSync } from 'node:fs';
import { nats } from '../nats-module';
import { decodeEvents } from '../../hops/events/wire';
import { isEvent } from './writer';
import type { MoatEvent } from '../../schemas/generated/event';
import { SUBJECTS } from '../../hops/events/subjects';
import { natsConnection } from '../../hops/events/nats-url';
import { supervisorNatsIdentity } from '../chain/nats-credentials';
import { Ledger, type StoredRow } from './ledger';
import { verifyLedger, type Checkpoint, type VerifyResult } from './verify';
import { keyFiles } from './writer';
import { MoatError } from '../errors';
import { basename } from 'node:path';
import { describeHeads, headFile, readHeadFile, withHeads, type HeadInput, type HeadRead } from './head';
import { eventMarks } from './event-marks';
import { TapPairer, formatTapFrames, formatTapRecord, tapFrames, type TapRecord } from './tap-view';
import type { StateLayout } from '../chain/state';
import type { Plan } from '../chain/plan';

/** Where a ledger is: a chain's state directory, or a chain's directory under `moat ledger serve --dir`. */
export interface LedgerLocation {
  ledgerFile: string;
  /** What makes the ledger, for the message when there is none yet. */
  madeBy?: string;
}

async function openLedger(layout: LedgerLocation): Promise<Ledger> {
  if (!existsSync(layout.ledgerFile))
    throw new MoatError(
      'MOAT_ERR_NO_LEDGER',
      `${layout.ledgerFile}: no ledger yet (it is created by ${layout.madeBy ?? '`moat chain up`'})`,
    );
  return Ledger.open(layout.ledgerFile, true);
}

export interface LedgerSnapshot {
  rows: StoredRow[];
  checkpoints: Checkpoint[];
  publicKey: string;
}

/** Rows, checkpoints and public key of a ledger, consistent even while the writer appends. */
export async function readLedgerSnapshot(layout: LedgerLocation): Promise<LedgerSnapshot> {
  const ledger = await openLedger(layout);
  try {
    const keyFile = keyFiles(layout.ledgerFile).publicKey;
    if (!existsSync(keyFile))
      throw new MoatError('MOAT_ERR_NO_LEDGER', `${keyFile}: the ledger's public key is missing`);
    // Checkpoints first: the writer signs only rows it has committed, so every checkpoint read now
    // has its row among the rows read next (the other order can see a checkpoint of rows it missed).
    const checkpoints = await ledger.checkpoints();
    const rows = await ledger.rows();
    return { rows, checkpoints, publicKey: readFileSync(keyFile, 'utf8') };
  } finally {
    await ledger.close();
  }
}

/** Where verify also looks for the head: NATS, when the caller can reach it (a running chain's, `--nats`). */
export interface HeadLookup {
  source: string;
  read: () => Promise<HeadRead | { unavailable: string }>;
}

/**
 * The heads outside the ledger first (the file next to it always, NATS when given), then the rows and checkpoints: the
 * writer puts a head out only after committing its rows, so every head read first is among the rows read after.
 */
// The writer writes the head file just after it commits its first checkpoint: read between the two, the file is
// missing while a checkpoint is there. Such a reading is made once more a moment later; a removed file stays missing.
const HEAD_FILE_RACE_MS = 250;

/** `read`, and once more after a moment when all it found wrong was a missing head file. */
export async function settledHeads<T extends { problem?: { kind: string } }>(read: () => Promise<T>): Promise<T> {
  const first = await read();
  if (first.problem?.kind !== 'head_missing') return first;
  await new Promise((r) => setTimeout(r, HEAD_FILE_RACE_MS));
  return read();
}

export async function verifyChainLedger(
  layout: LedgerLocation,
  chain: string,
  o: { nats?: HeadLookup } = {},
): Promise<VerifyResult> {
  return settledHeads(() => verifyOnce(layout, chain, o));
}

async function verifyOnce(layout: LedgerLocation, chain: string, o: { nats?: HeadLookup }): Promise<VerifyResult> {
  const heads = await headInputs(layout, o.nats);
  const { rows, checkpoints, publicKey } = await readLedgerSnapshot(layout);
  const result = withHeads(verifyLedger(chain, rows, checkpoints, publicKey), chain, rows, publicKey, heads);
  if (!result.ok) return result;
  const ledger = await openLedger(layout);
  const damage = await ledger.integrityProblems().finally(() => ledger.close());
  if (damage.length)
    return {
      ...result,
      ok: false,
      problem: {
        seq: 0,
        kind: 'corrupt',
        detail: `the database fails SQLite's integrity check: ${damage.slice(0, 3).join('; ')}`,
      },
    };
  return result;
}

export async function headInputs(layout: LedgerLocation, nats?: HeadLookup): Promise<HeadInput[]> {
  const file = headFile(layout.ledgerFile);
  return [
    { source: basename(file), read: readHeadFile(file), required: true },
    ...(nats ? [{ source: nats.source, read: await nats.read(), required: false }] : []),
  ];
}

export function describeVerify(file: string, r: VerifyResult): string {
  if (r.ok)
    return (
      `${file}: ok, ${r.rows} rows, ${r.checkpoints} signed ` +
      `checkpoints${r.unsignedTail ? `, ${r.unsignedTail} rows after the last checkpoint` : ''}` +
      `${describeHeads(r.heads)}`
    );
  return `${file}: row ${r.problem!.seq}: ${r.problem!.kind}: ${r.problem!.detail}`;
}

export interface EventFilter {
  trace?: string;
  hop?: number;
  host?: string;
  decision?: string;
}

/**
 * The conditions of a filter, on the hashed event's own fields (json_extract), never on the columns that copy them:
 * those are not covered by the hash, and a row whose copy was edited would otherwise vanish from every filtered read.
 * A trace is looked up through an index on the event's own trace (ledger.ts), the rest by a scan (about 1.6 ms per
 * thousand rows).
 */
export function eventWhere(f: EventFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const on = (field: string, value: unknown) => {
    where.push(`json_extract(event, '$.${field}') = ?`);
    params.push(value);
  };
  if (f.trace) on('trace', f.trace);
  if (f.hop !== undefined) on('hop', f.hop);
  if (f.host) on('host', f.host);
  if (f.decision) on('decision', f.decision);
  return { where, params };
}

/** Whether an event fits a filter: checked again on each event read, so an index cannot put in a row that does not. */
export function eventMatches(e: MoatEvent, f: EventFilter): boolean {
  return (
    (!f.trace || e.trace === f.trace) &&
    (f.hop === undefined || e.hop === f.hop) &&
    (!f.host || e.host === f.host) &&
    (!f.decision || e.decision === f.decision)
  );
}

export async function queryEvents(layout: LedgerLocation, f: EventFilter): Promise<MoatEvent[]> {
  const ledger = await openLedger(layout);
  try {
    const { where, params } = eventWhere(f);
    const texts = await ledger.eventTexts(where.length ? `WHERE ${where.join(' AND ')}` : '', params);
    return texts.map((t) => JSON.parse(t) as MoatEvent).filter((e) => eventMatches(e, f));
  } finally {
    await ledger.close();
  }
}

const closeCode = (code?: number) => (code === undefined ? '' : ` code=${code}`);

/** marks: from event-marks.ts, what the hop this event leads into did (shown at the end of the line). */
export function formatEvent(e: MoatEvent, marks: readonly string[] = []): string {
  const target = e.intercepted === false ? `${e.host}:${e.port} (blind)` : `${e.host}${e.path}`;
  const what =
    e.direction === 'gap'
      ? `gap of ${e.gap}`
      : e.direction === 'frames'
        ? `${e.method} ${target} ${e.frames?.length ?? 0} frame(s)${e.frames_dropped ? ` (+${e.frames_dropped} not listed)` : ''}`
        : `${e.method} ${target}${e.status ? ` ${e.status}` : ''} ${e.body_size ?? 0}B`;
  const extra = [
    e.decision && `decision=${e.decision}`,
    e.rule && `rule=${e.rule}`,
    e.error && `error=${e.error}`,
    e.websocket && `websocket closed_by=${e.websocket.closed_by}${closeCode(e.websocket.close_code)}`,
    e.elapsed_ms !== undefined && `elapsed=${e.elapsed_ms}ms`,
    ...marks,
  ]
    .filter(Boolean)
    .join(' ');
  return (
    `${e.time} boundary ${e.boundary} -> hop ${e.hop} ${e.hop_name.padEnd(14)} ${e.direction.padEnd(8)} ` +
    `${what}${extra ? ` ${extra}` : ''}`
  );
}

/** `events`' output: one line per event, or its JSON with `marks` added when it has any (event-marks.ts). */
export function eventLines(events: readonly MoatEvent[], json: boolean): string[] {
  const marks = eventMarks(events);
  return events.map((e) => {
    const m = marks.get(e.id) ?? [];
    return json ? JSON.stringify(m.length ? { ...e, marks: m } : e) : formatEvent(e, m);
  });
}

/**
 * Prints hop N's records as they happen (after --history from the ledger); stops after `count` records or on SIGINT.
 */
export async function tap(
  plan: Plan,
  layout: StateLayout,
  hop: number,
  o: { json: boolean; history: number; count?: number },
  print: (s: string) => void,
): Promise<void> {
  const hops = plan.processes[plan.processes.length - 1].hop - 1;
  if (!Number.isInteger(hop) || hop < 1 || hop > hops)
    throw new MoatError('MOAT_ERR_USAGE', `tap needs a hop number from 1 to ${hops}, got "${hop}"`);
  const pairer = new TapPairer(hop);
  let shown = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const emit = (record: TapRecord) => {
    if (o.count !== undefined && shown >= o.count) return;
    print(o.json ? JSON.stringify(record) : formatTapRecord(record) + '\n');
    if (o.count !== undefined && ++shown >= o.count) finish();
  };
  const show = (e: MoatEvent) => {
    const frames = tapFrames(hop, e);
    if (frames) print(o.json ? JSON.stringify(frames) : formatTapFrames(frames) + '\n');
    const record = pairer.add(e);
    if (record) emit(record);
  };
  const flusher = setInterval(() => pairer.flush().forEach(emit), 50);
  const nc = await nats().connect({
    ...natsConnection(plan.natsUrl, supervisorNatsIdentity(plan, layout)),
    name: `moat-${plan.chain}-tap`,
  });
  const subs = [hop, hop + 1].map((k) => nc.subscribe(SUBJECTS.hop(plan.chain, k)));
  if (o.history > 0 && existsSync(layout.ledgerFile)) {
    const past = (await queryEvents(layout, {})).filter((e) => e.hop === hop || e.hop === hop + 1);
    const traces = [...new Set(past.map((e) => e.trace))].slice(-o.history);
    for (const e of past) if (traces.includes(e.trace)) show(e);
    pairer.flush(Infinity).forEach(emit); // the ledger has all it will ever have of these
  }
  for (const sub of subs) {
    (async () => {
      for await (const m of sub) for (const { value } of decodeEvents(m.data)) if (isEvent(value)) show(value);
    })().catch(() => undefined);
  }
  // The subscriptions are live once the server has answered a flush; say so on stderr (stdout stays data).
  await nc.flush();
  process.stderr.write(`tapping hop ${hop} (${plan.processes.find((p) => p.hop === hop)?.name}); Ctrl-C stops\n`);
  process.once('SIGINT', finish);
  process.once('SIGTERM', finish);
  await done;
  clearInterval(flusher);
  await nc.drain().catch(() => undefined);
}
