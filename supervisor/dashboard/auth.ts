// Who may see the dashboard: whoever presents its token, as ?token=, as the cookie the page sets,
// or as `Authorization: Bearer`. Pure apart from writing the token file.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A fresh token for one `up`: 32 random bytes, hex, written 0600. */
export function writeDashboardToken(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

/**
 * Cookies belong to a host, not a port: two chains' dashboards on 127.0.0.1 would overwrite one
 * cookie, so its name carries the port.
 */
export function cookieName(port: number): string {
  return `moat_dashboard_${port}`;
}

export interface PresentedRequest {
  url: URL;
  authorization?: string;
  cookie?: string;
}

/** Every token the request carries, in the three places one may be. */
export function presentedTokens(req: PresentedRequest, port: number): string[] {
  const found: string[] = [];
  const query = req.url.searchParams.get('token');
  if (query) found.push(query);
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.authorization ?? '');
  if (bearer) found.push(bearer[1]);
  for (const part of (req.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === cookieName(port)) found.push(part.slice(eq + 1).trim());
  }
  return found;
}

/**
 * Constant time whatever the guess: both sides are hashed first, so neither the length nor the
 * first differing character of a wrong token shows in how long the answer takes.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return expected.length > 0 && timingSafeEqual(digest(given), digest(expected));
}

export function authorized(req: PresentedRequest, port: number, expected: string): boolean {
  // Every presented token is compared, so the time does not tell which place held a right one either.
  return presentedTokens(req, port)
    .map((t) => tokenMatches(t, expected))
    .some(Boolean);
}

/**
 * A page another site loads from a name it points at 127.0.0.1 (DNS rebinding) sends its own host
 * name: only the loopback names are served.
 */
export function loopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}
