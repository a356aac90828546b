// The dashboard's HTTP server: 127.0.0.1 only, the token on every request, one page (at / and at
// /trace/<id>, a request's own address), the JSON API and the live stream. Everything it serves is
// read-only, so GET (and HEAD) is all it takes.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { authorized, cookieName, loopbackHost } from './auth';
import { answerApi, parseFilter, TRACE_ID, type DashboardSources } from './api';
import type { LiveHub } from './sse';

export interface DashboardServerOptions {
  token: string;
  /** The page, with {{nonce}} where its script and style tags take the per-response CSP nonce. */
  page: string;
  sources: DashboardSources;
  live: LiveHub;
  log(line: string): void;
  /** Someone looks (the page, its live stream, the API): resolves once the requests in memory are current. */
  viewed?: () => Promise<void>;
}

// The page's own script and style only (by nonce), nothing from anywhere else, no framing.
function securityHeaders(nonce?: string): Record<string, string> {
  const script = nonce ? `'nonce-${nonce}'` : "'none'";
  return {
    'content-security-policy':
      `default-src 'none'; script-src ${script}; style-src ${script}; connect-src 'self'; img-src data:; ` +
      `base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...securityHeaders(),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

export function createDashboardServer(o: DashboardServerOptions): http.Server {
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      o.log(`dashboard: ${req.url?.split('?')[0]}: ${err.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: err.message });
      else res.destroy();
    });
  });
  const port = () => (server.address() as AddressInfo).port;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!authorized({ url, authorization: req.headers.authorization, cookie: req.headers.cookie }, port(), o.token)) {
      return sendJson(
        res,
        401,
        {
          error: 'unauthorized',
          message: 'open the address `moat chain up` or `moat chain status` prints: it carries the token',
        },
        { 'www-authenticate': 'Bearer realm="moat dashboard"' },
      );
    }
    if (!loopbackHost(req.headers.host, port()))
      return sendJson(res, 403, {
        error: 'forbidden',
        message: 'the dashboard answers to 127.0.0.1 and localhost only',
      });
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
    await o.viewed?.();

    // /trace/<id>: the page, opening that request's trace (it reads the id from its address). The id is checked as
    // the address has it, still percent-encoded: `..`, `%2F` or markup are no trace id, and are never echoed.
    const trace = /^\/trace\/([^/]*)$/.exec(url.pathname);
    if (trace && !TRACE_ID.test(trace[1]))
      return sendJson(res, 400, { error: 'bad_request', message: 'not a trace id (letters, digits, - and _)' });
    if (url.pathname === '/' || trace) {
      const nonce = randomBytes(16).toString('base64');
      const html = o.page.split('{{nonce}}').join(nonce);
      const headers: Record<string, string | number> = {
        ...securityHeaders(nonce),
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
      };
      // The token came in the address: keep it in a cookie the page's own requests (and EventSource) carry.
      if (url.searchParams.has('token'))
        headers['set-cookie'] = `${cookieName(port())}=${o.token}; Path=/; HttpOnly; SameSite=Strict`;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    if (url.pathname === '/_/api/live') {
      let filter;
      try {
        filter = parseFilter(url.searchParams);
      } catch (err) {
        return sendJson(res, 400, { error: 'bad_request', message: (err as Error).message });
      }
      return o.live.open(res, filter);
    }
    const answer = await answerApi(url.pathname, url.searchParams, o.sources);
    if (answer) return sendJson(res, answer.status, answer.body);
    sendJson(res, 404, { error: 'not_found' });
  }

  return server;
}
