// When a request body that is still arriving has taken too long (pure arithmetic; the caller keeps the timer).
// Modelled on Apache's mod_reqtimeout `body=20,MinRate=500`: the body must be complete within 20 s of the request's
// headers, plus 1 s for every 500 bytes received so far. A client that sends headers and then one byte every few
// seconds is cut after about 20 s; an upload of any size at 500 B/s or more is never cut.

export interface BodyTimeout {
  /** The time a body gets before any extension. */
  baseMs: number;
  /** Each this many bytes received add a second (0: no extension). */
  minRateBytesPerS: number;
}

export const BODY_TIMEOUT_DEFAULTS: BodyTimeout = { baseMs: 20_000, minRateBytesPerS: 500 };

/** The time by which the body must be complete, given when its headers arrived and how many bytes have come since. */
export function bodyDeadline(startedMs: number, bytesReceived: number, t: BodyTimeout): number {
  const extraS = t.minRateBytesPerS > 0 ? Math.floor(bytesReceived / t.minRateBytesPerS) : 0;
  return startedMs + t.baseMs + extraS * 1000;
}

/** True when a request can carry a body (one without Content-Length or Transfer-Encoding has none in HTTP/1.1). */
export function mayHaveBody(headers: { 'content-length'?: string; 'transfer-encoding'?: string }): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}
