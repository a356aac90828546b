// What `moat chain tap N` shows: the events at hop N's two boundaries, paired by trace, turned
// into one record per request: what went in, what came out, what the hop changed. Pure.
import type { MoatEvent } from '../../schemas/generated/event';
import { prefixChanged } from '../../hops/providers/cache-prefix';
import { hopStream, streamOf, type HopStream } from '../../hops/providers/stream-health';

export interface HeaderChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface TapRecord {
  trace: string;
  hop: number;
  hopName: string;
  method?: string;
  host?: string;
  path?: string;
  port?: number;
  /** false for a blind tunnel (tls.intercept): bytes passed through, nothing decrypted. */
  intercepted?: false;
  /**
   * Status the hop received from upstream (after) and returned (before); after is absent when the hop answered itself.
   */
  status: { before?: number; after?: number };
  /** Latency the hop added: its boundary's elapsed time minus the next boundary's. */
  latencyMs?: number;
  requestBytes: { before?: number; after?: number };
  responseBytes: { before?: number; after?: number };
  requestHeaders: HeaderChanges;
  responseHeaders: HeaderChanges;
  requestBody: string[];
  responseBody: string[];
  decision?: string;
  rule?: string;
  reason?: string;
  error?: string;
  correlation: 'exact' | 'inferred';
  /**
   * From the provider adapters: estimated request tokens going in (before) and coming out (after) of the hop, and the
   * provider's usage.
   */
  tokens?: { before?: number; after?: number; input?: number; output?: number };
  /** The hop changed the request's cacheable prefix (provider facts' cache_prefix differ): a prompt-cache miss. */
  cache_prefix_changed?: true;
  /** SSE responses: what the hop did to the stream (both of its boundaries recorded stream health). */
  stream?: HopStream;
  /** A WebSocket connection: how it closed and what passed, as the hop's before boundary saw it. */
  websocket?: MoatEvent['websocket'];
}

/** tap's view of a frames event at the hop's before boundary (--json), shown as it comes. */
export interface TapFrames {
  trace: string;
  hop: number;
  hopName: string;
  frames: NonNullable<MoatEvent['frames']>;
  frames_dropped?: number;
}

interface Pending {
  reqBefore?: MoatEvent;
  reqAfter?: MoatEvent;
  resAfter?: MoatEvent;
  resBefore?: MoatEvent;
}

// Events come from different processes, each publishing in batches, so the hop's own response can
// arrive before what the next boundary saw. A record waits this long for its after side.
export const AFTER_GRACE_MS = 500;

/** Collects events of hop `hop` (its before: subject hop.N) and of hop+1 (its after) and pairs them by trace. */
export class TapPairer {
  private readonly pending = new Map<string, Pending>();
  /** Traces whose before side is complete: the time after which they are shown without an after side. */
  private readonly due = new Map<string, number>();
  constructor(readonly hop: number) {}

  /**
   * A record once both sides are in, or at once when the hop answered the request itself (deny, failure). Frames
   * events are not paired (tapFrames shows them as they come).
   */
  add(event: MoatEvent, now = Date.now()): TapRecord | undefined {
    if (event.direction === 'gap' || event.direction === 'frames' || !event.trace) return undefined;
    const side = event.hop === this.hop ? 'before' : event.hop === this.hop + 1 ? 'after' : undefined;
    if (!side) return undefined;
    const p = this.pending.get(event.trace) ?? {};
    if (event.direction === 'request') p[side === 'before' ? 'reqBefore' : 'reqAfter'] = event;
    else p[side === 'before' ? 'resBefore' : 'resAfter'] = event;
    this.pending.set(event.trace, p);
    if (p.reqBefore && p.resBefore) {
      const answeredItself = p.resBefore.decision === 'deny' || p.resBefore.error !== undefined;
      if ((p.reqAfter && p.resAfter) || answeredItself) return this.take(event.trace);
      if (!this.due.has(event.trace)) this.due.set(event.trace, now + AFTER_GRACE_MS);
    }
    if (this.pending.size > 10_000) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      this.due.delete(oldest);
    }
    return undefined;
  }

  /** Records whose after side did not come within the grace time, shown as they are. */
  flush(now = Date.now()): TapRecord[] {
    const out: TapRecord[] = [];
    for (const [trace, deadline] of this.due) if (deadline <= now) out.push(this.take(trace));
    return out;
  }

  private take(trace: string): TapRecord {
    const p = this.pending.get(trace)!;
    this.pending.delete(trace);
    this.due.delete(trace);
    return tapRecord(this.hop, p);
  }
}

function tapRecord(hop: number, p: Pending): TapRecord {
  const req = p.reqBefore!;
  const res = p.resBefore!;
  const latency = res.elapsed_ms !== undefined ? res.elapsed_ms - (p.resAfter?.elapsed_ms ?? 0) : undefined;
  return {
    trace: req.trace,
    hop,
    hopName: req.hop_name,
    method: req.method,
    host: req.host,
    path: req.path,
    ...(req.intercepted === false ? { port: req.port, intercepted: false as const } : {}),
    status: { before: res.status, after: p.resAfter?.status },
    latencyMs: latency === undefined ? undefined : Math.round(latency * 1000) / 1000,
    requestBytes: { before: req.body_size, after: p.reqAfter?.body_size },
    responseBytes: { before: res.body_size, after: p.resAfter?.body_size },
    requestHeaders: p.reqAfter
      ? headerChanges(req.headers, p.reqAfter.headers)
      : { added: [], removed: [], changed: [] },
    responseHeaders: p.resAfter
      ? headerChanges(p.resAfter.headers, res.headers)
      : { added: [], removed: [], changed: [] },
    requestBody: bodyChanges(req.body, p.reqAfter?.body),
    responseBody: bodyChanges(p.resAfter?.body, res.body),
    decision: res.decision ?? req.decision,
    rule: res.rule ?? req.rule,
    reason: res.reason ?? req.reason,
    error: res.error,
    correlation: req.correlation === 'inferred' || p.reqAfter?.correlation === 'inferred' ? 'inferred' : 'exact',
    ...tokens(p),
    ...(prefixChanged(req.provider, p.reqAfter?.provider) ? { cache_prefix_changed: true as const } : {}),
    ...streamPart(p),
    ...(res.websocket ? { websocket: res.websocket } : {}),
  };
}

/** A frames event of hop `hop`'s before boundary as tap shows it; undefined for any other event. */
export function tapFrames(hop: number, e: MoatEvent): TapFrames | undefined {
  if (e.direction !== 'frames' || e.hop !== hop) return undefined;
  return {
    trace: e.trace,
    hop,
    hopName: e.hop_name,
    frames: e.frames ?? [],
    ...(e.frames_dropped ? { frames_dropped: e.frames_dropped } : {}),
  };
}

/** Characters of a frame's text tap shows. */
const PREVIEW_CHARS = 80;

/** One line per frame: `-> text 42B +12.3 ms "..."` (-> from the client, <- from the server). */
export function formatTapFrames(t: TapFrames): string {
  const lines = [
    `websocket frames  trace ${t.trace}  hop ${t.hop} (${t.hopName})` +
      (t.frames_dropped ? `  ${t.frames_dropped} more not listed (over 256 a second)` : ''),
  ];
  for (const f of t.frames) {
    const text =
      f.text === undefined
        ? ''
        : ` ${JSON.stringify(f.text.slice(0, PREVIEW_CHARS))}${f.text.length > PREVIEW_CHARS || f.text_truncated ? '...' : ''}`;
    lines.push(
      `  ${f.from === 'client' ? '->' : '<-'} ${f.op}${f.fin ? '' : ' (more follows)'} ${f.size}B ` +
        `+${f.at_ms.toFixed(1)} ms${f.close_code === undefined ? '' : ` code ${f.close_code}`}${text}`,
    );
  }
  return lines.join('\n');
}

/** The close of a WebSocket connection: who, code and reason, bytes and frames each way. */
export function websocketLine(w: NonNullable<MoatEvent['websocket']>): string {
  const code = w.close_code === undefined ? '' : ` code ${w.close_code}`;
  const reason = w.close_reason ? ` ${JSON.stringify(w.close_reason)}` : '';
  return (
    `  websocket closed by ${w.closed_by}${code}${reason}   bytes up ${w.bytes_up} down ${w.bytes_down}   ` +
    `frames up ${w.frames_up} down ${w.frames_down}`
  );
}

function streamPart(p: Pending): Pick<TapRecord, 'stream'> {
  const input = streamOf(p.resAfter);
  const output = streamOf(p.resBefore);
  return input && output ? { stream: hopStream(input, output) } : {};
}

/** tap's lines for what the hop did to an SSE stream. */
export function streamLines(s: HopStream): string[] {
  const first = s.addedFirstMs === undefined ? '-' : `${s.addedFirstMs >= 0 ? '+' : ''}${s.addedFirstMs.toFixed(1)}`;
  const lines = [
    `  stream events ${s.events.in} -> ${s.events.out}   first token ${first} ms   largest gap ` +
      `${s.largestGapMs.in.toFixed(1)} -> ${s.largestGapMs.out.toFixed(1)} ms`,
  ];
  if (s.buffered) lines.push(`  stream buffered: events held ${s.buffered.heldMs.toFixed(1)} ms and sent together`);
  if (s.changes.length) lines.push(`  stream changed: ${s.changes.join(', ')}`);
  return lines;
}

type Facts = { tokens_estimate?: number; input_tokens?: number; output_tokens?: number } | undefined;

function tokens(p: Pending): Pick<TapRecord, 'tokens'> {
  const facts = (e?: MoatEvent) => e?.provider as Facts;
  const t = {
    before: facts(p.reqBefore)?.tokens_estimate,
    after: facts(p.reqAfter)?.tokens_estimate,
    input: facts(p.resBefore)?.input_tokens ?? facts(p.resAfter)?.input_tokens,
    output: facts(p.resBefore)?.output_tokens ?? facts(p.resAfter)?.output_tokens,
  };
  return Object.values(t).some((v) => v !== undefined) ? { tokens: JSON.parse(JSON.stringify(t)) } : {};
}

// Headers every link rewrites by itself; they say nothing about what the hop did.
const TRANSPORT = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

/** from: what went into the hop; to: what came out. Values of credential headers are already [REDACTED]. */
export function headerChanges(from: Record<string, string> = {}, to: Record<string, string> = {}): HeaderChanges {
  const names = (h: Record<string, string>) => Object.keys(h).filter((n) => !TRANSPORT.has(n));
  return {
    added: names(to)
      .filter((n) => !(n in from))
      .sort(),
    removed: names(from)
      .filter((n) => !(n in to))
      .sort(),
    changed: names(to)
      .filter((n) => n in from && from[n] !== to[n])
      .sort(),
  };
}

/** A short JSON diff: `messages: 48 items -> 12 items`, `model: "a" -> "b"`, `+field`, `-field`. */
export function bodyChanges(from?: string, to?: string): string[] {
  if (from === undefined || to === undefined || from === to) return [];
  let a: unknown;
  let b: unknown;
  try {
    a = JSON.parse(from);
    b = JSON.parse(to);
  } catch {
    return [`body: ${from.length} -> ${to.length} characters`];
  }
  const out: string[] = [];
  walk(a, b, '', out);
  return out.slice(0, 20);
}

function summary(v: unknown): string {
  if (Array.isArray(v)) return `${v.length} items`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).length} keys}`;
  const s = JSON.stringify(v);
  if (s.length <= 60) return s;
  return typeof v === 'string' ? `${s.slice(0, 40)}..." (${v.length} chars)` : `${s.slice(0, 57)}...`;
}

function walk(a: unknown, b: unknown, path: string, out: string[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of Object.keys(a)) if (!(k in b)) out.push(`-${path}${k}`);
    for (const k of Object.keys(b)) {
      if (!(k in a)) out.push(`+${path}${k}: ${summary(b[k])}`);
      else walk(a[k], b[k], `${path}${k}.`, out);
    }
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const name = path.replace(/\.$/, '') || '(body)';
  // Same length: say which items changed (messages[3].content), not just that the list did.
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((item, i) => walk(item, b[i], `${name}[${i}].`, out));
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length)
    out.push(`${name}: ${a.length} -> ${b.length} items`);
  else out.push(`${name}: ${summary(a)} -> ${summary(b)}`);
}

const arrow = (x?: number, y?: number) => `${x ?? '-'} -> ${y ?? '-'}`;

export function formatTapRecord(r: TapRecord): string {
  const what =
    r.intercepted === false
      ? `CONNECT ${r.host}:${r.port}  blind tunnel, not intercepted (tls.intercept)`
      : `${r.method} ${r.host}${r.path}`;
  const lines = [`${what}  trace ${r.trace}${r.correlation === 'inferred' ? ' (inferred)' : ''}`];
  if (r.status.after === undefined)
    lines.push(
      `  answered by hop ${r.hop} (${r.hopName}): ` +
        `${r.status.before}${r.decision ? ` ${r.decision}` : ''}${r.rule ? ` rule ${r.rule}` : ''}` +
        `${r.reason ? `: ${r.reason}` : ''}`,
    );
  else
    lines.push(
      `  status ${r.status.after} -> ${r.status.before}   latency added ${r.latencyMs?.toFixed(2) ?? '-'} ` +
        `ms${r.decision ? `   decision ${r.decision}${r.rule ? ` (${r.rule})` : ''}` : ''}`,
    );
  if (r.error) lines.push(`  error ${r.error}`);
  if (r.websocket) lines.push(websocketLine(r.websocket));
  lines.push(
    `  request bytes ${arrow(r.requestBytes.before, r.requestBytes.after)}   response bytes ` +
      `${arrow(r.responseBytes.after, r.responseBytes.before)}`,
  );
  const headerLine = (label: string, c: HeaderChanges) => {
    const parts = [...c.added.map((n) => `+${n}`), ...c.removed.map((n) => `-${n}`), ...c.changed.map((n) => `~${n}`)];
    if (parts.length) lines.push(`  ${label} headers ${parts.join(' ')}`);
  };
  if (r.tokens) {
    const usage =
      r.tokens.input !== undefined || r.tokens.output !== undefined
        ? `   usage in ${r.tokens.input ?? '-'} out ${r.tokens.output ?? '-'}`
        : '';
    lines.push(`  tokens ~${r.tokens.before ?? '-'} -> ~${r.tokens.after ?? '-'} (estimate)${usage}`);
  }
  if (r.cache_prefix_changed)
    lines.push('  cache_prefix_changed: the hop changed the cacheable prefix (the provider cannot reuse its cache)');
  if (r.stream) lines.push(...streamLines(r.stream));
  headerLine('request', r.requestHeaders);
  headerLine('response', r.responseHeaders);
  for (const c of r.requestBody) lines.push(`  request body ${c}`);
  for (const c of r.responseBody) lines.push(`  response body ${c}`);
  return lines.join('\n');
}
