// The typed views hop logic works on. Hop logic is pure: it gets these and returns
// decisions; hops/runtime/link-server.ts and hops/runtime/forwarder.ts do all the I/O.
import type { FrameInfo } from './ws-frame-reader';
import type { ProviderFacts } from '../providers/facts';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface RequestView {
  method: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Path with query, as sent on the wire. */
  path: string;
  headers: Headers;
  trace: string;
  /**
   * How `trace` was found: sent with the request (exact), claimed from the link before a hop that dropped it
   * (inferred), or new (unmatched).
   */
  correlation?: 'exact' | 'inferred' | 'unmatched';
}

/** What a hop decided, recorded in events: allow | deny | log, with the rule and reason. */
export interface DecisionRecord {
  action: string;
  rule?: string;
  reason?: string;
}

export type RequestDecision =
  | { action: 'forward'; log?: string; decision?: DecisionRecord }
  // body is sent as JSON (an object, or an array for a JSON-RPC batch).
  | {
      action: 'respond';
      status: number;
      body: Record<string, unknown> | unknown[];
      headers?: Record<string, string>;
      log?: string;
      decision?: DecisionRecord;
    };

/**
 * A request body a hop asked to see before deciding: all of it, or its first bytes when it is longer than asked for.
 */
export interface BodyPrefix {
  bytes: Buffer;
  complete: boolean;
}

/** A response as a hop sees it once it has ended: status, headers, and the runtime's bounded copy of the body. */
export interface ResponseSeen {
  status: number;
  headers: Headers;
  body: { bytes(): Buffer; truncated: boolean };
  error?: string;
  /** A provider WebSocket, at its close: the usage of its responses, read from its frames (no body to read). */
  facts?: ProviderFacts;
}

/** What one request did at one Moat process, known once its response has ended. */
export interface ExchangeRecord {
  request: RequestView;
  status: number;
  requestBytes: number;
  responseBytes: number;
  /** Until the response headers arrived from the next hop, in ms. */
  ttfbMs: number;
  durationMs: number;
  /** Set when the exchange failed (e.g. "hop_unavailable") or the client went away ("client_aborted"). */
  error?: string;
}

export interface HopLogic {
  /** How many bytes of this request's body the hop needs before deciding (0 or absent: headers suffice). */
  bodyLimit?(view: RequestView): number;
  onRequest?(view: RequestView, body?: BodyPrefix): RequestDecision;
  /** A blind tunnel (tls.intercept): the view is the CONNECT (method CONNECT, empty path); respond refuses it. */
  onTunnel?(view: RequestView): RequestDecision;
  /** Bytes of the response body onResponse wants a copy of (0 or absent: none). */
  responseCopy?(view: RequestView): number;
  onResponse?(view: RequestView, response: ResponseSeen): void;
  /** Returns a log line to print, if any. */
  onComplete?(record: ExchangeRecord): string | undefined;
  /** A WebSocket after its 101 (moat-policy): what reads the client's frames, or undefined when nothing does. */
  webSocketGuard?(view: RequestView): WebSocketGuard | undefined;
}

/** What a hop found in a WebSocket's client frames (moat-policy's DLP: hops/policy/ws-dlp.ts). */
export interface WebSocketFinding {
  /** The link error code the close records (dlp_blocked, body_not_inspectable, body_too_large_to_inspect). */
  code: string;
  /** A sentence for the event's reason and the log line; never the secret. */
  reason: string;
}

/**
 * Reads one connection's client frames, each before it goes on (hops/runtime/ws-gate.ts holds a text message until
 * its last fragment is read). A finding closes both sides with 1008 when `enforce`, else it is only reported.
 */
export interface WebSocketGuard {
  onFrame(frame: FrameInfo): WebSocketFinding | undefined;
  /** The most bytes of one message held for reading (policy.inspect_max_bytes). */
  inspectMaxBytes: number;
  /** Past inspectMaxBytes: refuse the message (deny) or let it through unread (allow). */
  oversize: 'deny' | 'allow';
  enforce: boolean;
  /** The finding as the close records it (decision) and the hop logs it. */
  describe(finding: WebSocketFinding, view: RequestView): { decision: DecisionRecord; log: string };
}

export function hostPort(view: Pick<RequestView, 'scheme' | 'host' | 'port'>): string {
  const defaultPort = view.scheme === 'https' ? 443 : 80;
  return view.port === defaultPort ? view.host : `${view.host}:${view.port}`;
}

/** Path without the query string: queries may carry keys (Gemini's ?key=), never log them. */
export function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}
