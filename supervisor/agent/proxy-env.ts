// What the Node preload (node-preload.ts) reads from the agent's environment, decided without I/O: which proxy a
// request to a scheme uses, whether NO_PROXY sends a host direct, and whether this Node already honours
// NODE_USE_ENV_PROXY itself. Kept apart so it is table-tested; the preload only applies the answers.
//
// Nothing here may put the proxy URL (it carries the chain token) into an error or a string other than the
// Proxy-Authorization value it returns.
import { isIPv6 } from 'node:net';

export interface ProxyTarget {
  host: string;
  port: number;
  /** The Proxy-Authorization header value, '' when the URL has no credentials. */
  authorization: string;
}

/**
 * The proxy for a scheme, read the way undici's EnvHttpProxyAgent reads it (lower case first; https falls back to
 * the http proxy). undefined: none set, unparsable, or not an http:// proxy (the preload then leaves Node alone).
 */
export function proxyFor(env: NodeJS.ProcessEnv, scheme: 'http' | 'https'): ProxyTarget | undefined {
  const http = env.http_proxy || env.HTTP_PROXY;
  const raw = scheme === 'https' ? env.https_proxy || env.HTTPS_PROXY || http : http;
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || !url.hostname) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : 80;
  let authorization = '';
  if (url.username || url.password) {
    const user = safeDecode(url.username);
    const pass = safeDecode(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  return { host, port, authorization };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

interface NoProxyEntry {
  host: string;
  /** 0: any port */
  port: number;
}

/** NO_PROXY's entries (comma or space separated; `*` for all, `.example.com` / `*.example.com` for a domain). */
export function parseNoProxy(value: string | undefined): NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const item of (value ?? '').split(/[\s,]+/)) {
    let entry = item.trim().toLowerCase();
    if (!entry) continue;
    let port = 0;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1];
      port = bracketed[2] ? Number(bracketed[2]) : 0;
    } else if (!isIPv6(entry)) {
      const withPort = /^(.+):(\d+)$/.exec(entry);
      if (withPort) {
        entry = withPort[1];
        port = Number(withPort[2]);
      }
    }
    entries.push({ host: entry.replace(/^\*?\./, '').replace(/\.$/, ''), port });
  }
  return entries;
}

/** Whether a request to host:port goes direct under these NO_PROXY entries. */
export function bypassesProxy(host: string, port: number, entries: NoProxyEntry[]): boolean {
  const name = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  return entries.some(
    (e) => (e.port === 0 || e.port === port) && (e.host === '*' || name === e.host || name.endsWith(`.${e.host}`)),
  );
}

/**
 * Whether this Node routes fetch AND http/https through HTTP(S)_PROXY itself when NODE_USE_ENV_PROXY=1: 22.21+ on
 * the 22 line, 24.5+ and every later major (before those, Node 24.0-24.4 covered fetch only, and 20 nothing).
 */
export function honoursEnvProxy(nodeVersion: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(nodeVersion);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 22) return minor >= 21;
  if (major === 24) return minor >= 5;
  return major >= 25;
}
