// Stream health at one boundary: watches a Server-Sent Events body go by, chunk by chunk, and keeps only counts,
// times and two short digests (never the text). Work per chunk is O(chunk) and state is bounded (a few dozen bytes
// of the current line and event), so it adds no buffering to the data path. Pure: the caller passes the time.
// Lines end at \n (a \r before it is dropped); a lone \r as line end (allowed by the SSE spec, used by no provider
// seen) is not recognised.
import { createHash } from 'node:crypto';
import type { MoatEvent } from '../../schemas/generated/event';

/** What one boundary saw of an SSE response: the `stream` field of its response event (schemas/event.schema.json). */
export type StreamHealth = NonNullable<MoatEvent['stream']>;

export const BUNCHED_MS = 1;

const FINAL_NAMES = new Set(['message_stop', 'response.completed', 'response.failed', 'response.incomplete']);
const FINAL_DATA = /^\{\s*"type"\s*:\s*"(message_stop|response\.completed|response\.failed|response\.incomplete)"/;
const HEAD_BYTES = 64;
/** Ends each event's data in the sequence digest: a byte UTF-8 text never holds. */
const EVENT_END = Buffer.from([0xff]);
const CR = 0x0d;
const NL = 0x0a;
const CR_BYTES = Buffer.from([CR]);
const NL_BYTES = Buffer.from([NL]);

type Kind = 'event' | 'data' | 'other';

export class SseWatch {
  private events = 0;
  private first?: number;
  private last?: number;
  private maxGap = 0;
  private bunched = 0;
  private eventLines = 0;
  private final = false;
  private readonly sequence = createHash('sha256');
  private readonly lanes = new Uint32Array(4);
  // The current line.
  private lineLen = 0;
  private head = ''; // its first bytes, until its field is known
  private kind?: Kind;
  private skipSpace = false;
  private pendingCr = false;
  // The current event.
  private hasData = false;
  private fnvA = 0;
  private fnvB = 0;
  private dataBytes = 0;
  private dataLines = 0;
  private dataHead = '';
  private name = '';

  /** origin: when the request arrived at this boundary, on the clock `now` is given in. */
  constructor(private readonly origin: number) {}

  push(chunk: Buffer, now: number): void {
    let pos = 0;
    while (pos <= chunk.length) {
      const nl = chunk.indexOf(NL, pos);
      const end = nl < 0 ? chunk.length : nl;
      this.segment(chunk.subarray(pos, end), nl >= 0);
      if (nl < 0) return;
      this.endLine(now);
      pos = nl + 1;
    }
  }

  health(): StreamHealth {
    const round = (v: number) => Math.round(v * 1000) / 1000;
    const content = Buffer.from(this.lanes.buffer).toString('hex');
    return {
      events: this.events,
      ...(this.first !== undefined ? { first_event_ms: round(this.first - this.origin) } : {}),
      ...(this.last !== undefined ? { last_event_ms: round(this.last - this.origin) } : {}),
      max_gap_ms: round(this.maxGap),
      bunched: this.bunched,
      event_lines: this.eventLines,
      final: this.final,
      sequence: this.sequence.copy().digest('hex').slice(0, 16),
      content,
    };
  }

  /** Bytes of the current line; `complete` when a \n follows them. */
  private segment(seg: Buffer, complete: boolean): void {
    if (this.pendingCr) {
      this.pendingCr = false;
      if (!(complete && seg.length === 0)) this.bytes(CR_BYTES);
    }
    if (seg.length > 0 && seg[seg.length - 1] === CR) {
      seg = seg.subarray(0, -1);
      if (!complete) this.pendingCr = true;
    }
    this.bytes(seg);
  }

  private bytes(seg: Buffer): void {
    if (seg.length === 0) return;
    this.lineLen += seg.length;
    if (this.kind === undefined) {
      const need = 6 - this.head.length;
      this.head += seg.subarray(0, need).toString('latin1');
      const rest = seg.subarray(need);
      if (this.head.length < 6 && !this.head.includes(':')) return;
      this.decide();
      if (rest.length) this.value(rest);
      return;
    }
    this.value(seg);
  }

  /** The line's field, from its first bytes; what of them follows the field name is its value. */
  private decide(): void {
    const colon = this.head.indexOf(':');
    const field = colon < 0 ? this.head : this.head.slice(0, colon);
    this.kind = field === 'event' ? 'event' : field === 'data' ? 'data' : 'other';
    if (this.kind === 'event') this.eventLines++;
    if (this.kind === 'data') {
      if (this.dataLines++ > 0) this.feedData(NL_BYTES);
      if (!this.hasData) {
        this.hasData = true;
        this.fnvA = 0x811c9dc5;
        this.fnvB = 0x050c5d1f;
        this.dataBytes = 0;
      }
    }
    const after = colon < 0 ? '' : this.head.slice(colon + 1);
    // One space after the colon is not part of the value; the usual "data: " has only that.
    this.skipSpace = after === '';
    const value = after.startsWith(' ') ? after.slice(1) : after;
    if (value) this.value(Buffer.from(value, 'latin1'));
  }

  private value(v: Buffer): void {
    if (this.skipSpace) {
      this.skipSpace = false;
      if (v[0] === 0x20) v = v.subarray(1);
    }
    if (v.length === 0) return;
    if (this.kind === 'data') this.feedData(v);
    else if (this.kind === 'event' && this.name.length < HEAD_BYTES)
      this.name += v.subarray(0, HEAD_BYTES - this.name.length).toString('latin1');
  }

  private feedData(v: Buffer): void {
    this.sequence.update(v);
    let a = this.fnvA;
    let b = this.fnvB;
    for (let i = 0; i < v.length; i++) {
      a = Math.imul(a ^ v[i], 16777619);
      b = Math.imul(b ^ v[i], 2246822519);
    }
    this.fnvA = a;
    this.fnvB = b;
    this.dataBytes += v.length;
    if (this.dataHead.length < HEAD_BYTES) this.dataHead += v.subarray(0, HEAD_BYTES - this.dataHead.length).toString();
  }

  private endLine(now: number): void {
    if (this.lineLen === 0) this.dispatch(now);
    else if (this.kind === undefined) this.decide();
    this.lineLen = 0;
    this.head = '';
    this.kind = undefined;
    this.skipSpace = false;
  }

  private dispatch(now: number): void {
    if (this.hasData) {
      this.sequence.update(EVENT_END);
      this.lanes[0] = (this.lanes[0] + this.fnvA) >>> 0;
      this.lanes[1] = (this.lanes[1] + this.fnvB) >>> 0;
      this.lanes[2] = (this.lanes[2] + this.dataBytes) >>> 0;
      this.lanes[3] = (this.lanes[3] + (this.fnvA ^ this.fnvB)) >>> 0;
      if (this.last !== undefined) {
        const gap = now - this.last;
        this.maxGap = Math.max(this.maxGap, gap);
        if (gap < BUNCHED_MS) this.bunched++;
      }
      this.first ??= now;
      this.last = now;
      this.events++;
      this.final = FINAL_NAMES.has(this.name.trim()) || this.dataHead === '[DONE]' || FINAL_DATA.test(this.dataHead);
    }
    this.hasData = false;
    this.dataLines = 0;
    this.dataHead = '';
    this.name = '';
  }
}
