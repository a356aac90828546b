// The events of one WebSocket connection at one boundary (pure): frames batched into frames events within the bounds
// of issue 21 (64 frames per event, 256 listed per second, 64 KiB of text per event, the rest counted), and the
// response event that ends the connection. The runtime reads frames (hops/logic/ws-frame-reader.ts), feeds them here
// with their direction and time, owns the timer (dueAt / due / take) and publishes what it takes. Text is masked by
// the DLP detectors as bodies are (capture-body.ts), and never kept in capture metadata.
import type { MoatEvent } from '../../schemas/generated/event';
import type { DecisionRecord, Headers, RequestView } from '../logic/view';
import type { FrameInfo } from '../logic/ws-frame-reader';
import { ended, eventBase, type BoundaryInfo, type CaptureMode } from './boundary-events';
import { capturedBody, LOOKAHEAD_BYTES } from './capture-body';
import { recordableHeaders } from './recordable';

export type WsFrameRecord = NonNullable<MoatEvent['frames']>[number];
export type WsSide = 'client' | 'server';

/** Frames listed in one frames event at most; a full batch is due at once. */
export const FRAMES_PER_EVENT = 64;
/** A batch is due this long after its first frame. */
export const FRAMES_EVENT_DELAY_MS = 200;
/** Frames listed per connection per second at most; the rest are counted in frames_dropped. */
export const FRAMES_PER_SECOND = 256;
/** Text (UTF-8 bytes) one frames event carries at most, all frames together. */
export const FRAMES_TEXT_BYTES = 64 * 1024;

export interface FrameLogOptions {
  capture: CaptureMode;
  /** capture.max_body_bytes: the most text of one frame (the reader copies LOOKAHEAD_BYTES more for DLP). */
  captureLimit: number;
  /** The grants' placeholders: no secrets, left in text. */
  placeholders?: readonly string[];
  /** When the handshake arrived here, on the clock the runtime passes as `now` (ms). */
  startMs: number;
}

/** What a frames event lists: frames (possibly none, when all were over the rate) and how many were not listed. */
export interface FramesBatch {
  frames: WsFrameRecord[];
  dropped: number;
}

/** The first close frame of a connection: who sent it, its code and its reason (not yet masked). */
export interface FirstClose {
  from: WsSide;
  code?: number;
  reason?: string;
}

/**
 * How much of a frame's payload the runtime's WsFrameReader copies: the capture limit and the DLP lookahead (as a body
 * tap keeps), and at moat-policy the bytes its DLP reads of a message (policy.inspect_max_bytes).
 */
export function frameCopyBytes(captureLimit: number, inspectBytes = 0): number {
  return Math.max(captureLimit + LOOKAHEAD_BYTES, inspectBytes);
}

const ms3 = (x: number) => Math.round(x * 1000) / 1000;

/** One connection's frames at one boundary, batched for frames events. Costs a DLP read of each frame's text. */
export class WsFrameLog {
  private batch: WsFrameRecord[] = [];
  private dropped = 0;
  private batchStart?: number;
  private textBytes = 0;
  private second = -1;
  private listedThisSecond = 0;
  private up = 0;
  private down = 0;
  private close?: FirstClose;
  /**
   * A fragmented text message's text so far, per direction (at most the capture and its lookahead): it is masked and
   * recorded whole on the message's last frame, since a secret split between fragments is a secret only whole.
   */
  private readonly joined: Record<WsSide, { text: string; size: number; cut: boolean } | undefined> = {
    client: undefined,
    server: undefined,
  };

  constructor(private readonly o: FrameLogOptions) {}

  /**
   * The text to record for a frame, and how many bytes of text it stands for: a whole frame's own; for a fragment of a
   * text message nothing until its last, which stands for the message joined.
   */
  private textOf(from: WsSide, f: FrameInfo): { text: string; whole: number; cut: boolean } | undefined {
    // Text messages and close reasons only: a binary frame's or a ping's bytes (copied for moat-policy) are not text.
    if (f.text === undefined || (f.op !== 'close' && f.message !== 'text')) return undefined;
    if (f.op === 'close') return { text: f.text, whole: f.size - 2, cut: f.textTruncated === true };
    if (f.op === 'text' && f.fin) return { text: f.text, whole: f.size, cut: f.textTruncated === true };
    const keep = this.o.captureLimit + LOOKAHEAD_BYTES;
    const j = (this.joined[from] ??= { text: '', size: 0, cut: false });
    j.size += f.size;
    j.cut ||= f.textTruncated === true;
    if (j.text.length < keep) j.text += f.text.slice(0, keep - j.text.length);
    if (f.text.length > keep) j.cut = true;
    if (!f.fin) return undefined;
    this.joined[from] = undefined;
    return { text: j.text, whole: j.size, cut: j.cut || Buffer.byteLength(j.text) < j.size };
  }

  /** Records a frame that crossed at `now`; returns true when the batch is full (take it now). */
  add(from: WsSide, frame: FrameInfo, now: number): boolean {
    if (from === 'client') this.up++;
    else this.down++;
    if (frame.op === 'close' && !this.close)
      this.close = {
        from,
        ...(frame.closeCode !== undefined ? { code: frame.closeCode, reason: frame.text ?? '' } : {}),
      };
    const at = now - this.o.startMs;
    this.batchStart ??= now;
    const second = Math.floor(at / 1000);
    if (second !== this.second) {
      this.second = second;
      this.listedThisSecond = 0;
    }
    // Joined whether listed or not: the last fragment's text is the message's.
    const text = this.o.capture === 'metadata' ? undefined : this.textOf(from, frame);
    // Over the rate, or a full batch the runtime has not taken yet: counted, not listed (memory stays bounded).
    if (this.listedThisSecond >= FRAMES_PER_SECOND || this.batch.length >= FRAMES_PER_EVENT) {
      this.dropped++;
      return false;
    }
    this.listedThisSecond++;
    this.batch.push(this.record(from, frame, at, text));
    return this.batch.length >= FRAMES_PER_EVENT;
  }

  /** When the pending batch is due (ms, the runtime's clock), or undefined when nothing is pending. */
  dueAt(): number | undefined {
    if (this.batchStart === undefined) return undefined;
    return this.batch.length >= FRAMES_PER_EVENT ? this.batchStart : this.batchStart + FRAMES_EVENT_DELAY_MS;
  }

  due(now: number): boolean {
    const at = this.dueAt();
    return at !== undefined && now >= at;
  }

  /** The pending batch (at the close: whatever is pending, due or not); undefined when nothing is. */
  take(): FramesBatch | undefined {
    if (this.batchStart === undefined) return undefined;
    const out = { frames: this.batch, dropped: this.dropped };
    this.batch = [];
    this.dropped = 0;
    this.textBytes = 0;
    this.batchStart = undefined;
    return out;
  }

  /** Frames seen each way (listed or not): frames_up / frames_down of the close event. */
  get framesUp(): number {
    return this.up;
  }
  get framesDown(): number {
    return this.down;
  }
  /** The connection's first close frame, if one crossed. */
  get firstClose(): FirstClose | undefined {
    return this.close;
  }

  private record(
    from: WsSide,
    f: FrameInfo,
    at: number,
    t: { text: string; whole: number; cut: boolean } | undefined,
  ): WsFrameRecord {
    const r: WsFrameRecord = { from, op: f.op, size: f.size, fin: f.fin, at_ms: ms3(at) };
    if (f.closeCode !== undefined) r.close_code = f.closeCode;
    const capture = this.o.capture;
    if (t === undefined || capture === 'metadata') return r;
    // t.whole: the text's bytes in all (a close frame's payload begins with its 2-byte code; a fragmented message's
    // last frame stands for the whole message).
    const limit = Math.min(this.o.captureLimit, FRAMES_TEXT_BYTES - this.textBytes);
    if (limit <= 0) {
      if (t.whole > 0) r.text_truncated = true;
      return r;
    }
    const cut = t.whole > limit;
    // More past the copy: capturedBody then drops a last word it cannot see the end of.
    const text = capturedBody(t.text, limit, capture, t.cut, this.o.placeholders);
    this.textBytes += Math.min(t.whole, limit);
    r.text = text;
    if (cut) r.text_truncated = true;
    return r;
  }
}

/** A frames event: the base fields of the handshake's request, and the batch. */
export function framesEvent(
  info: BoundaryInfo,
  view: RequestView,
  batch: FramesBatch,
  extra: { provider?: Record<string, unknown> } = {},
): MoatEvent {
  const event = eventBase(info, view, 'frames');
  event.frames = batch.frames;
  if (batch.dropped > 0) event.frames_dropped = batch.dropped;
  if (extra.provider) event.provider = extra.provider;
  return event;
}

export interface WebSocketCloseFacts {
  /** 101 (the connection was upgraded). */
  status: number;
  /** The 101's headers, recorded as a response's are. */
  headers?: Headers;
  /** The connection's whole life here, and the time until the 101, in ms. */
  elapsedMs: number;
  ttfbMs: number;
  closedBy: 'client' | 'server' | 'moat' | 'abort';
  /** The first close frame's code and reason, as read (the reason is masked here). */
  closeCode?: number;
  closeReason?: string;
  /** Raw bytes after the handshake each way, and frames each way (WsFrameLog's framesUp / framesDown). */
  bytesUp: number;
  bytesDown: number;
  framesUp: number;
  framesDown: number;
  /** Set when Moat closed it (dlp_blocked, ...) or it failed. */
  error?: string;
  decision?: DecisionRecord;
  /** capture.max_body_bytes, when below a close reason's 123 bytes: the reason is cut there as frame text is. */
  captureLimit?: number;
  /** A provider socket's usage over the connection's life (hops/providers/socket-usage.ts). */
  provider?: Record<string, unknown>;
}

const MAX_REASON_BYTES = 123;

/** The response event that ends a WebSocket connection's trace at this boundary. */
export function websocketCloseEvent(info: BoundaryInfo, view: RequestView, c: WebSocketCloseFacts): MoatEvent {
  const event = eventBase(info, view, 'response');
  if (c.headers) {
    const headers = recordableHeaders(c.headers, info, view.trace);
    event.header_names = Object.keys(headers).sort();
    event.headers = headers;
  }
  event.status = c.status;
  event.elapsed_ms = ms3(c.elapsedMs);
  event.ttfb_ms = ms3(c.ttfbMs);
  const ws: NonNullable<MoatEvent['websocket']> = {
    closed_by: c.closedBy,
    bytes_up: c.bytesUp,
    bytes_down: c.bytesDown,
    frames_up: c.framesUp,
    frames_down: c.framesDown,
  };
  if (c.closeCode !== undefined) ws.close_code = c.closeCode;
  if (c.closeReason && info.capture !== 'metadata') {
    const limit = Math.min(c.captureLimit ?? MAX_REASON_BYTES, MAX_REASON_BYTES);
    ws.close_reason = capturedBody(
      c.closeReason,
      limit,
      info.capture,
      Buffer.byteLength(c.closeReason) > limit,
      info.placeholders,
    );
  }
  event.websocket = ws;
  if (c.provider) event.provider = c.provider;
  return ended(event, c);
}
