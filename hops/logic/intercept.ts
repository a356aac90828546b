// tls.intercept: which CONNECT tunnels moat terminates and inspects. Every other host is tunnelled
// blind (hops/runtime/blind-tunnel.ts). Pure.
import { globMatch, globSource } from './glob';

/**
 * Sent on a CONNECT by a client that will speak plain HTTP inside (moat chain run --transparent, for port-80
 * traffic): plain HTTP is always seen, so such a tunnel is served, never relayed blind. Claiming it and then
 * sending TLS gets a Moat leaf, i.e. more inspection, never less.
 */
export const PLAIN_HTTP_HEADER = 'x-moat-plain-http';

/** The default: every host is intercepted, as before tls: existed. */
export const INTERCEPT_ALL: readonly string[] = ['*'];

/** Whether a CONNECT to `host` is TLS-terminated; no list (absent from the spec) means every host. */
export function intercepts(list: readonly string[] | undefined, host: string): boolean {
  return list === undefined || list.some((glob) => globMatch(glob, host));
}

/** Whether the list intercepts every host (so nothing is blind and nothing needs wiring). */
export function interceptsEverything(list: readonly string[]): boolean {
  return list.some((glob) => /^\**$/.test(glob) && glob.length > 0);
}

/**
 * The list as one anchored, case-insensitive-ready regular expression, for third-party proxies that
 * intercept TLS themselves and take a host pattern (mitmproxy's allow_hosts).
 */
export function interceptRegex(list: readonly string[]): string {
  // (?!) matches nothing: every host blind (an empty allow_hosts would mean "intercept all" to mitmproxy).
  // mitmproxy 10 and later match allow_hosts against "host:port", older ones against the host alone: both match.
  return list.length === 0 ? '(?!)' : `^(?:${list.map(globSource).join('|')})(?::\\d+)?$`;
}
