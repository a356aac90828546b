// An independent client for tests: undici's ProxyAgent (CONNECT + TLS, keep-alive).
import { ProxyAgent, request } from 'undici';
import { readFileSync } from 'node:fs';

export function proxyAgent(port: number, token: string | undefined, caFile: string): ProxyAgent {
  return new ProxyAgent({
    uri: `http://127.0.0.1:${port}`,
    token: token ? `Basic ${Buffer.from(`moat:${token}`).toString('base64')}` : undefined,
    requestTls: { ca: readFileSync(caFile, 'utf8') },
  });
}

export interface TimedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  headersAt: number;
  chunks: { at: number; text: string }[];
}

/** A request whose response chunks are timestamped (ms since the request started). */
export async function timedRequest(
  agent: ProxyAgent,
  url: string,
  init: {
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    /** Called once the headers are in, and after each chunk (a gated fake provider is let go on from here). */
    onProgress?: () => void;
  } = {},
): Promise<TimedResponse> {
  const t0 = performance.now();
  const res = await request(url, {
    dispatcher: agent,
    method: (init.method ?? 'GET') as any,
    body: init.body,
    headers: init.headers,
  });
  const headersAt = performance.now() - t0;
  init.onProgress?.();
  const chunks: TimedResponse['chunks'] = [];
  for await (const chunk of res.body) {
    chunks.push({ at: performance.now() - t0, text: Buffer.from(chunk).toString('utf8') });
    init.onProgress?.();
  }
  return {
    status: res.statusCode,
    headers: res.headers as TimedResponse['headers'],
    body: chunks.map((c) => c.text).join(''),
    headersAt,
    chunks,
  };
}
