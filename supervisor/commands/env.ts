// The environment an agent runs with: the proxy (with the chain token) and the Moat CA in
// every variable common runtimes read, and the placeholders of the chain's grants (never a real
// key: egress puts that in). Used by `moat chain env` and `moat chain run`; `run --transparent`
// gives the CA (its own copy) and the placeholders only.
import type { StateLayout } from '../chain/state';
import { NODE_PRELOAD_FILE } from '../paths';

/**
 * Proxy settings an agent may have inherited; a transparent run removes them (no proxy is reachable from its
 * namespace).
 */
export const PROXY_VARIABLES = [
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'https_proxy',
  'http_proxy',
  'all_proxy',
  'no_proxy',
];

export function agentEnv(
  layout: StateLayout,
  ingressPort: number,
  token: string,
  placeholders: Record<string, string> = {},
  nodeOptions?: string,
): Record<string, string> {
  const proxy = `http://moat:${token}@127.0.0.1:${ingressPort}`;
  const noProxy = 'localhost,127.0.0.1,::1';
  return {
    HTTPS_PROXY: proxy,
    HTTP_PROXY: proxy,
    // curl reads only the lower-case http_proxy; many tools prefer lower case.
    https_proxy: proxy,
    http_proxy: proxy,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    ...nodeProxyEnv(nodeOptions),
    ...trustEnv(layout),
    ...placeholders,
  };
}

/**
 * Node ignores the proxy variables before 22.21 / 24.5: NODE_USE_ENV_PROXY=1 turns them on where Node honours it,
 * and the preload (supervisor/agent/node-preload.ts) does the same on older Node. `existing` is the NODE_OPTIONS the
 * agent would have had: kept, the preload added once after it.
 */
export function nodeProxyEnv(existing: string | undefined, preload = NODE_PRELOAD_FILE): Record<string, string> {
  // NODE_OPTIONS reads double quotes, with a backslash escaping the next character.
  const option = `--require "${preload.replace(/["\\]/g, '\\$&')}"`;
  const before = (existing ?? '').trim();
  return {
    NODE_USE_ENV_PROXY: '1',
    NODE_OPTIONS: before.includes(option) ? before : before ? `${before} ${option}` : option,
  };
}

/** The Moat CA in every variable common runtimes read. */
export function trustEnv(layout: Pick<StateLayout, 'caCertFile' | 'caBundleFile'>): Record<string, string> {
  return {
    SSL_CERT_FILE: layout.caBundleFile,
    REQUESTS_CA_BUNDLE: layout.caBundleFile,
    CURL_CA_BUNDLE: layout.caBundleFile,
    GIT_SSL_CAINFO: layout.caBundleFile,
    // Node adds these to its own roots, so the Moat CA alone is right here.
    NODE_EXTRA_CA_CERTS: layout.caCertFile,
  };
}

/**
 * `run --transparent`: the caller's environment without proxy settings, with the Moat CA and the placeholders. The
 * chain token is not in it. `trust` is the run's own copy of the CA files (MOAT_HOME is covered inside its namespace).
 */
export function transparentEnv(
  base: NodeJS.ProcessEnv,
  trust: Pick<StateLayout, 'caCertFile' | 'caBundleFile'>,
  placeholders: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...trustEnv(trust), ...placeholders };
  for (const name of PROXY_VARIABLES) delete env[name];
  return env;
}

export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
}
