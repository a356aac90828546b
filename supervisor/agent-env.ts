// The environment an agent runs with: the proxy (with the chain token) and the Moat CA in
// every variable common runtimes read, and the placeholders of the chain's grants (never a real
// key: egress puts that in). Used by `moat chain env` and `moat chain run`.
import type { StateLayout } from './state';

export function agentEnv(layout: StateLayout, ingressPort: number, token: string, placeholders: Record<string, string> = {}): Record<string, string> {
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
    SSL_CERT_FILE: layout.caBundleFile,
    REQUESTS_CA_BUNDLE: layout.caBundleFile,
    CURL_CA_BUNDLE: layout.caBundleFile,
    GIT_SSL_CAINFO: layout.caBundleFile,
    // Node adds these to its own roots, so the Moat CA alone is right here.
    NODE_EXTRA_CA_CERTS: layout.caCertFile,
    ...placeholders,
  };
}

export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
}
