// The timer behind hops/logic/body-deadline.ts: a request whose body stops arriving is answered 408 body_timeout and
// its connection closed, so a client that sends headers and then a byte now and then holds no socket (nor the
// connections it opened further down the chain) for longer than the deadline, whatever was answered meanwhile (a 407 or
// 403 answered before the body would otherwise wait for the body to end). One timer per request with a body, re-armed
// only when it fires; requests without a body (most GETs) cost nothing.
import type http from 'node:http';
import { bodyDeadline, mayHaveBody, type BodyTimeout } from '../logic/body-deadline';
import type { Failure } from '../logic/failure';

/** How long a connection that was answered 408 may stay before it is destroyed (its client may not close it). */
const LINGER_MS = 1000;

/**
 * Calls `expired` once if the body of `req` is not complete by its deadline (counted from `startedMs`,
 * performance.now()). Progress is what the connection has received since (`socket.bytesRead`, decrypted bytes on a
 * TLS socket), so nothing is added to how the body is read: it may wait unread (a trace claim) without changing flow.
 */
export function watchBody(req: http.IncomingMessage, t: BodyTimeout, startedMs: number, expired: () => void): void {
  if (t.baseMs <= 0 || req.complete || !mayHaveBody(req.headers as Record<string, string | undefined>)) return;
  const socket = req.socket;
  const base = socket.bytesRead;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => clearTimeout(timer);
  const check = () => {
    if (req.complete) return; // all of it arrived; the rest is ours to read
    const left = bodyDeadline(startedMs, socket.bytesRead - base, t) - performance.now();
    if (left > 0) {
      timer = setTimeout(check, left);
      return;
    }
    expired();
  };
  req.once('end', stop);
  req.once('close', stop);
  timer = setTimeout(check, bodyDeadline(startedMs, 0, t) - performance.now());
}

export function bodyTimeoutFailure(t: BodyTimeout): Failure {
  const extension = t.minRateBytesPerS > 0 ? `, plus 1 s per ${t.minRateBytesPerS} bytes received` : '';
  return {
    status: 408,
    error: 'body_timeout',
    message: `the request body did not arrive in time (${t.baseMs / 1000} s${extension})`,
  };
}

/**
 * After a 408: the connection cannot carry another request (the rest of the body is still on its way), so it is
 * closed once the answer is out, and destroyed soon after whatever the client does.
 */
export function closeConnection(res: http.ServerResponse): void {
  const socket = res.socket ?? res.req?.socket;
  if (!socket) return;
  if (res.writableFinished || res.destroyed) {
    socket.destroy();
    return;
  }
  res.once('finish', () => setTimeout(() => socket.destroy(), LINGER_MS).unref());
  res.once('close', () => setTimeout(() => socket.destroy(), LINGER_MS).unref());
}
