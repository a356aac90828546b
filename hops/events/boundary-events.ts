// Builds the events of one boundary (pure: no sockets, no NATS). A Moat process records what
// it receives, which is the boundary in front of the hop it serves: the request as it arrives
// and the response as it leaves again. Egress records boundary N, what meets the internet.
import { nextEventId } from './event-id';
import type { MoatEvent } from '../../schemas/generated/event';
import { recordableHeaders, recordablePath } from './recordable';
import { capturedBody, LOOKAHEAD_BYTES } from './capture-body';
import type { RequestView } from '../logic/view';
import type { BodyTap } from './body-tap';
import { requestFacts, responseFacts } from '../providers/adapters';
import { bodyText } from '../providers/decode';
import type { ProviderFacts } from '../providers/facts';

/** Provider facts from a body the tap kept, inflated first when it is compressed. */
function readFacts(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  tap: BodyTap,
  read: (text: string, truncated: boolean) => ProviderFacts | undefined,
): ProviderFacts | undefined {
  const encoding = headers['content-encoding'];
  if (encoding === undefined) return read(tap.text(), tap.truncated);
  const decoded = tap.truncated
    ? { error: 'body longer than the copy kept for reading it' }
    : bodyText(tap.bytes(), String(encoding));
  if ('text' in decoded) return read(decoded.text, false);
  const facts = read('', true); // undefined when no adapter applies
  return facts && { adapter: facts.adapter, normalization_error: decoded.error };
}

export type CaptureMode = 'metadata' | 'redacted' | 'full';

export interface BoundaryInfo {
  chain: string;
  /** The hop this boundary leads into (egress: N+1). */
  hop: number;
  hopName: string;
  boundary: number;
  capture: CaptureMode;
  /** Credential headers besides the usual ones (generic grants'), redacted too. */
  redactHeaders?: readonly string[];
  /** The grants' placeholders: key-shaped, sent by the agent, and no secret, so DLP leaves them in bodies. */
  placeholders?: readonly string[];
  /** The chain's salt for cache_prefix (providers/cache-prefix.ts); without it none is recorded. */
  cacheSalt?: Buffer;
}

export interface BodyFacts {
  tap: BodyTap;
  contentType?: string;
  streaming: boolean;
  /**
   * capture.max_body_bytes: the most of the body an event may carry. The tap keeps LOOKAHEAD_BYTES
   * more, to recognise a secret straddling the cut (and more again for provider facts).
   */
  captureLimit: number;
}

/** What every event of a request carries: who recorded it, where, and the request's line. */
export function eventBase(
  info: BoundaryInfo,
  view: RequestView,
  direction: 'request' | 'response' | 'frames',
): MoatEvent {
  return {
    id: nextEventId(),
    chain: info.chain,
    trace: view.trace,
    hop: info.hop,
    hop_name: info.hopName,
    boundary: info.boundary,
    direction,
    time: new Date().toISOString(),
    method: view.method,
    scheme: view.scheme,
    host: view.host,
    port: view.port,
    path: recordablePath(view.path, info.placeholders),
    correlation: view.correlation ?? (view.trace ? 'exact' : 'unmatched'),
    ...replayOf(view),
  };
}

/** moat chain replay marks what it sends (supervisor/commands/replay.ts). */
function replayOf(view: RequestView): { replay_of?: string } {
  const value = view.headers['x-moat-replay-of'];
  return typeof value === 'string' && /^[0-9a-f]{32}$/.test(value) ? { replay_of: value } : {};
}

function withBody(
  event: MoatEvent,
  info: BoundaryInfo,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: BodyFacts,
): MoatEvent {
  const redacted = recordableHeaders(headers, info, event.trace);
  event.header_names = Object.keys(redacted).sort();
  event.headers = redacted;
  event.body_size = body.tap.size;
  event.body_sha256 = body.tap.sha256();
  if (body.contentType) event.content_type = body.contentType;
  event.streaming = body.streaming;
  if (info.capture !== 'metadata' && body.tap.size > 0) {
    const seen = body.captureLimit + LOOKAHEAD_BYTES;
    const form = /^application\/x-www-form-urlencoded/i.test(body.contentType ?? '');
    event.body = capturedBody(
      body.tap.text(seen),
      body.captureLimit,
      info.capture,
      body.tap.truncatedAt(seen),
      info.placeholders,
      { form },
    );
    if (body.tap.truncatedAt(body.captureLimit)) event.body_truncated = true;
  }
  return event;
}

export function requestEvent(info: BoundaryInfo, view: RequestView, body: BodyFacts): MoatEvent {
  const event = withBody(eventBase(info, view, 'request'), info, view.headers, body);
  const facts = readFacts(view.headers, body.tap, (text, truncated) =>
    requestFacts(view.host, view.path, text, truncated, info.cacheSalt),
  );
  if (facts) event.provider = facts as unknown as Record<string, unknown>;
  return event;
}

export interface ResponseFacts {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: BodyFacts;
  elapsedMs: number;
  ttfbMs: number;
  error?: string;
  decision?: { action: string; rule?: string; reason?: string };
}

export function responseEvent(info: BoundaryInfo, view: RequestView, r: ResponseFacts): MoatEvent {
  const event = withBody(eventBase(info, view, 'response'), info, r.headers, r.body);
  // Only a provider's own answer has usage to read; a hop's error or a deny does not.
  const facts =
    r.status < 400 && !r.error
      ? readFacts(r.headers, r.body.tap, (text, truncated) =>
          responseFacts(view.host, view.path, text, r.body.contentType, truncated),
        )
      : undefined;
  if (facts) event.provider = facts as unknown as Record<string, unknown>;
  if (r.body.tap.sse) event.stream = r.body.tap.sse.health();
  event.status = r.status;
  event.elapsed_ms = Math.round(r.elapsedMs * 1000) / 1000;
  event.ttfb_ms = Math.round(r.ttfbMs * 1000) / 1000;
  return ended(event, r);
}

/** A response event's error code and the decision with its rule and reason, when there are. */
export function ended(
  event: MoatEvent,
  r: { error?: string; decision?: { action: string; rule?: string; reason?: string } },
): MoatEvent {
  if (r.error) event.error = r.error;
  if (r.decision) {
    event.decision = r.decision.action;
    if (r.decision.rule) event.rule = r.decision.rule;
    if (r.decision.reason) event.reason = r.decision.reason;
  }
  return event;
}

export function gapEvent(info: Omit<BoundaryInfo, 'capture'>, dropped: number): MoatEvent {
  return {
    id: nextEventId(),
    chain: info.chain,
    trace: '',
    hop: info.hop,
    hop_name: info.hopName,
    boundary: info.boundary,
    direction: 'gap',
    time: new Date().toISOString(),
    gap: dropped,
    reason: `${dropped} event(s) dropped: queue full or NATS unreachable`,
  };
}

export function isStreaming(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const type = String(headers['content-type'] ?? '');
  return (
    type.startsWith('text/event-stream') ||
    (headers['content-length'] === undefined && headers['transfer-encoding'] !== undefined)
  );
}

/** An SSE body the stream health can read: text/event-stream, not compressed. */
export function isSse(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const encoding = String(headers['content-encoding'] ?? 'identity').toLowerCase();
  return /^text\/event-stream/i.test(String(headers['content-type'] ?? '')) && encoding === 'identity';
}
