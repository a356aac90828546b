// How long a kept-alive connection may wait idle for its next request, given the server's `Keep-Alive: timeout=N`
// (seconds) on its last answer. A server that closes idle connections sooner than we would reuse them otherwise races
// our next request: it meets a closing connection and fails. Node's Agent keeps such a connection one second less than
// the hint, and not at all when that leaves nothing; so does the link client (pure).

/** The idle time in ms for a connection whose last answer carried `hint`; 0: do not reuse it. */
export function keptAliveMs(hint: string | string[] | undefined, defaultMs: number): number {
  const value = Array.isArray(hint) ? hint[0] : hint;
  // Node reads the hint exactly so: lower case, first in the header.
  const seconds = value === undefined ? undefined : /^timeout=(\d+)/.exec(value)?.[1];
  if (seconds === undefined) return defaultMs;
  const ms = Number(seconds) * 1000 - 1000;
  return ms <= 0 ? 0 : Math.min(ms, defaultMs);
}
