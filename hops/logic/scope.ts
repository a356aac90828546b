// Which requests a base_url hop serves: a host glob and, when any are given, a path prefix
// must match. Everything else skips the hop. Pure.
import { globMatch } from './glob';
import { canonicalHost } from './canonical-host';

export interface Scope {
  hosts: string[];
  paths: string[];
}

export function inScope(scope: Scope, host: string, path: string): boolean {
  const bare = path.split('?')[0];
  return (
    scope.hosts.some((glob) => globMatch(glob, host)) &&
    (scope.paths.length === 0 || scope.paths.some((prefix) => bare.startsWith(prefix)))
  );
}

/**
 * A base_url hop sends on to `http://127.0.0.1:PORT/_moat/TOKEN/<scheme>/<host[:port]>/<path>`: its
 * upstream base URL names the destination, because a reverse proxy drops the original one.
 */
export const BASE_PREFIX = '/_moat/';

export function parseBasePath(
  url: string,
): { token: string; scheme: 'http' | 'https'; host: string; port: number; path: string } | undefined {
  const m = /^\/_moat\/([0-9a-f]+)\/(https?)\/([A-Za-z0-9.-]+)(?::(\d{1,5}))?(\/.*)?$/.exec(url);
  if (!m) return undefined;
  const scheme = m[2] as 'http' | 'https';
  const port = m[4] ? Number(m[4]) : scheme === 'https' ? 443 : 80;
  const host = canonicalHost(m[3]);
  if (!host || port < 1 || port > 65535) return undefined;
  return { token: m[1], scheme, host, port, path: m[5] ?? '/' };
}
