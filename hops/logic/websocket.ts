// The WebSocket handshake as every Moat process passes it on (pure). A handshake is an ordinary GET until the 101:
// rules, egress.allow, the canonical path and grants read it as any request, and a refusal answers it with the usual
// JSON before anything is upgraded. Only `Upgrade: websocket` is passed on as an upgrade; any other upgrade (h2c) is
// answered as the plain request it also is.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { VIA_HEADER } from './hop-answer';
import type { Failure } from './failure';
import type { NextHop } from '../spec';

/**
 * Sent with every handshake a Moat process passes on: the Moat process after a third-party hop that gets the request
 * without its upgrade knows the hop dropped it. Removed from every request that is not a handshake, so an agent's
 * spelling of it goes no further than ingress.
 */
export const WEBSOCKET_MARK = 'x-moat-websocket';

/** The handshake headers a proxy may not forward as they are, and what replaces them. */
const UPGRADE_HEADERS = { connection: 'Upgrade', upgrade: 'websocket' } as const;

/** A WebSocket opening handshake: GET with `Upgrade: websocket` (any case, possibly listed with others). */
export function isWebSocketHandshake(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (method !== 'GET') return false;
  const upgrade = String(headers['upgrade'] ?? '');
  return upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/**
 * The handshake's headers to send on: the end-to-end ones the hop decided on, the upgrade again (hop-by-hop), and the
 * mark unless they leave the chain (`outside`: egress, or the link in front of a hop that dials destinations itself).
 */
export function handshakeHeaders(sent: OutgoingHttpHeaders, outside: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...sent, ...UPGRADE_HEADERS };
  if (!outside) out[WEBSOCKET_MARK] = '1';
  // A handshake has no body: what a client sends after its head is frames, never a body the server should wait for.
  delete out['content-length'];
  delete out['transfer-encoding'];
  return out;
}

/**
 * A third-party hop between two Moat processes did not pass a handshake on as one: it answered it with `status`
 * itself (then `status` is given), or sent it on without its upgrade (the process after the hop saw the mark).
 */
export function websocketUnsupported(hop: Pick<NextHop, 'hop' | 'name'>, status?: number): Failure {
  const how =
    status === undefined
      ? 'passed the WebSocket handshake on without its upgrade'
      : `answered the WebSocket handshake itself (${status}) instead of passing it on`;
  return {
    status: 502,
    error: 'websocket_unsupported',
    message: `hop ${hop.hop} (${hop.name}) ${how}: it cannot carry WebSockets; take it out of this chain for them`,
    hop: hop.hop,
    hop_name: hop.name,
    ...(status === undefined ? {} : { hop_status: status }),
  };
}

/**
 * At ingress the extensions offer goes: permessage-deflate would hide every frame's text from the events and from
 * moat-policy's DLP, so the chain's frames stay uncompressed end to end.
 */
export function withoutExtensions(headers: OutgoingHttpHeaders): void {
  delete headers['sec-websocket-extensions'];
}

/** The 101 sent back to the client: the status line and the server's headers as they came, without Moat's mark. */
export function switchingHead(statusMessage: string | undefined, rawHeaders: readonly string[]): string {
  let head = `HTTP/1.1 101 ${statusMessage || 'Switching Protocols'}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === VIA_HEADER) continue;
    head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return head + '\r\n';
}

/** The 101's headers as recorded (lower-case names, Moat's mark left out). */
export function recordedSwitchHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  if (headers[VIA_HEADER] === undefined) return headers;
  const copy = { ...headers };
  delete copy[VIA_HEADER];
  return copy;
}
