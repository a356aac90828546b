// egress.upstream_proxy: a corporate HTTP proxy egress reaches destinations through. Pure: which destinations go
// through it (bypass globs and egress.resolve go direct), how it is named in errors (host:port, never credentials),
// and what its answers mean. The sockets are hops/runtime/upstream-proxy.ts's.
import { isIPv6 } from 'node:net';
import { globMatch } from './glob';
import { canonicalHost } from './canonical-host';
import { resolveEntry } from './egress-allow';
import type { UpstreamProxySpec } from '../spec';

export type { UpstreamProxySpec };

/** The variable `moat chain up` hands egress the credentials in (hops/main.ts takes it out of process.env). */
export const UPSTREAM_PROXY_AUTH_ENV = 'MOAT_UPSTREAM_PROXY_AUTH';

/** Error codes the runtime tags its failures with; hops/logic/failure.ts maps them. */
export const UPSTREAM_PROXY_AUTH = 'MOAT_UPSTREAM_PROXY_AUTH';
export const UPSTREAM_PROXY_UNAVAILABLE = 'MOAT_UPSTREAM_PROXY_UNAVAILABLE';
export const UPSTREAM_PROXY_REFUSED = 'MOAT_UPSTREAM_PROXY_REFUSED';

/** A failure on the way through the proxy, tagged by hops/runtime/upstream-proxy.ts. */
export interface UpstreamProxyError extends Error {
  code: typeof UPSTREAM_PROXY_AUTH | typeof UPSTREAM_PROXY_UNAVAILABLE | typeof UPSTREAM_PROXY_REFUSED;
  /** The proxy's host:port. */
  upstreamProxy: string;
  /** What the proxy answered a CONNECT or request with (407, 403, 503, ...). */
  proxyStatus?: number;
  /** The error connecting to the proxy (ECONNREFUSED, ENOTFOUND, ETIMEDOUT, ...). */
  cause?: string;
}

/** "host:port" as errors, plan and status show the proxy. */
export function upstreamProxyName(p: Pick<UpstreamProxySpec, 'host' | 'port'>): string {
  return isIPv6(p.host) ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

/**
 * egress.upstream_proxy.url -> host and port, or why it is not usable. Only http://host[:port][/]: credentials
 * belong in credentials_env (a URL is written to the plan), and the proxy is spoken to in plain HTTP as proxies are.
 */
export function parseUpstreamProxyUrl(url: string): { host: string; port: number } | { problem: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { problem: 'it is not a URL (not shown: it may hold a password); write http://host:port' };
  }
  if (u.protocol !== 'http:') return { problem: `the scheme must be http:// (a proxy is spoken to in plain HTTP)` };
  if (u.username || u.password)
    return { problem: 'the URL holds a user or password: put "user:password" in the variable credentials_env names' };
  if ((u.pathname && u.pathname !== '/') || u.search || u.hash)
    return { problem: 'the URL has a path, query or fragment; write http://host:port' };
  if (!u.hostname) return { problem: 'the URL has no host' };
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 80 };
}

/**
 * Does egress reach host:port through the upstream proxy? Not when a bypass glob matches the host, nor when
 * egress.resolve maps it: a mapping is an address on this side (a local test provider) that the corporate proxy could
 * not know, so it is dialled directly as without a proxy (and egress's address check applies as before).
 */
export function viaUpstreamProxy(
  upstream: Pick<UpstreamProxySpec, 'bypass'> | undefined,
  resolve: Record<string, string>,
  host: string,
  port: number,
): boolean {
  if (!upstream) return false;
  if (resolveEntry(resolve, host, port) !== undefined) return false;
  const h = canonicalHost(host) ?? host.toLowerCase();
  return !upstream.bypass.some((glob) => globMatch(glob, h));
}

/** The Proxy-Authorization for "user:password"; undefined for none. */
export function upstreamProxyAuthorization(credentials: string | undefined): string | undefined {
  return credentials ? `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}` : undefined;
}
