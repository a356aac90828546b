// A prototype for the issue 22 lever "a lean link server" (bench only, not the product): HTTP/1.1 over a TLS socket
// served without Node's http.Server, IncomingMessage or ServerResponse. llhttp (Node's own parser, as
// hops/runtime/link-client.ts binds it) reads each request's head, the request goes on by Moat's link client, and the
// answer's head is written by hand and its body framed by hand. It handles what the four-forwarder floor sends (no
// upgrades, no 100-continue, no pipelining) and is measured by test/bench/link-floor.ts against Node's server.
import http from 'node:http';
import type tls from 'node:tls';
import { HTTPParser, type LinkPool } from '../../hops/runtime/link-client';

const methods = (require('_http_common') as { methods: string[] }).methods;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te']);
const CRLF = Buffer.from('\r\n');
// LEAN_VARIANT=msg: each request also made an http.IncomingMessage (as a product server must, for the hop logic), piped
// on; =res: and each answer written through a real http.ServerResponse. Unset: neither.
const VARIANT = process.env.LEAN_VARIANT ?? '';

/** Serves one TLS connection: each request sent on through `pool`, each answer written back, keep-alive. */
export function serveLean(socket: tls.TLSSocket, pool: LinkPool): void {
  const P = HTTPParser!;
  const parser = new P();
  parser.initialize(P.REQUEST, {});
  let lines: string[] = [];
  let out: ReturnType<LinkPool['request']> | undefined;
  parser[P.kOnHeaders] = (more: string[]) => void lines.push(...more);
  parser[P.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    raw: string[] | undefined,
    method: number,
    url: string,
  ): number => {
    const all = raw ?? lines.splice(0);
    lines = [];
    const headers: http.OutgoingHttpHeaders = {};
    for (let i = 0; i < all.length; i += 2) {
      const name = all[i].toLowerCase();
      if (!HOP_BY_HOP.has(name)) headers[name] = all[i + 1];
    }
    if (VARIANT) return asMessage(socket, pool, methods[method], url, all, (r) => (req = r));
    const sent = (out = pool.request(methods[method], url, headers));
    sent.on('response', (up: http.IncomingMessage) => answer(socket, up));
    sent.on('error', () => socket.destroy());
    return 0;
  };
  let req: http.IncomingMessage | undefined;
  parser[P.kOnBody] = (chunk: Buffer) => void (req ? req.push(chunk) : out?.write(chunk));
  parser[P.kOnMessageComplete] = () => {
    if (req) {
      req.complete = true;
      req.push(null);
      req = undefined;
    }
    out?.end();
    out = undefined;
  };
  // As Node's http.Server does: llhttp reads the TLS stream below JavaScript (no 'data' event per chunk), and says
  // after each read whether it failed (kOnExecute).
  const handle = (socket as unknown as { _handle?: { isStreamBase?: boolean; _consumed?: boolean } })._handle;
  if (handle?.isStreamBase) {
    handle._consumed = true;
    (parser as unknown as { consume(h: object): void }).consume(handle);
    parser[(P as unknown as { kOnExecute: number }).kOnExecute] = (result: number | Error) => {
      if (result instanceof Error) socket.destroy();
    };
  } else {
    socket.on('data', (data: Buffer) => {
      const result = parser.execute(data);
      if (result instanceof Error) socket.destroy();
    });
  }
  socket.on('close', () => parser.close());
  socket.on('error', () => socket.destroy());
}

function answer(socket: tls.TLSSocket, up: http.IncomingMessage): void {
  const raw = up.rawHeaders;
  let head = `HTTP/1.1 ${up.statusCode} ${up.statusMessage}\r\n`;
  let length = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'content-length') length = true;
    else if (HOP_BY_HOP.has(name)) continue;
    head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  head += length ? 'Connection: keep-alive\r\n\r\n' : 'Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n';
  // The head waits for the first piece of the body (or the end), so that both leave in one write, as Node's
  // ServerResponse sends them.
  let pending: string | undefined = head;
  const flushHead = () => {
    if (pending !== undefined) socket.write(pending, 'latin1');
    pending = undefined;
  };
  up.on('data', (chunk: Buffer) => {
    socket.cork();
    flushHead();
    if (length) socket.write(chunk);
    else {
      socket.write(chunk.length.toString(16) + '\r\n');
      socket.write(chunk);
      socket.write(CRLF);
    }
    socket.uncork();
  });
  up.on('end', () => {
    socket.cork();
    flushHead();
    if (!length) socket.write('0\r\n\r\n');
    socket.uncork();
  });
}

function asMessage(
  socket: tls.TLSSocket,
  pool: LinkPool,
  method: string,
  url: string,
  raw: string[],
  hold: (req: http.IncomingMessage) => void,
): number {
  const req = new http.IncomingMessage(socket as unknown as import('node:net').Socket);
  req.method = method;
  req.url = url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  (req as unknown as { _addHeaderLines(raw: string[], n: number): void })._addHeaderLines(raw, raw.length);
  hold(req);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
  const sent = pool.request(method, url, headers);
  sent.on('error', () => socket.destroy());
  if (VARIANT === 'res') {
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = true;
    res.assignSocket(socket as unknown as import('node:net').Socket);
    res.on('finish', () => res.detachSocket(socket as unknown as import('node:net').Socket));
    sent.on('response', (up: http.IncomingMessage) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
    });
  } else sent.on('response', (up: http.IncomingMessage) => answer(socket, up));
  req.pipe(sent);
  return 0;
}
