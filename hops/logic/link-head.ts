// The head of a request a Moat process sends the next one over link TLS (hops/runtime/link-client.ts), written by
// us instead of Node's http client, and checked as strictly as Node checks it: a name, value, method or path that could
// end the line early would let text in a header become a second request at the next process (pure).
import type http from 'node:http';

/** How the body is framed on the link: its length as the request said, chunks, or no body at all. */
export type Framing = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'none' };

/** Methods Node's client frames as chunked when no length is known (the others send no body unless told). */
const CHUNKED_BY_DEFAULT = new Set(['POST', 'PUT', 'PATCH']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A header value: visible ASCII, spaces and tabs, and bytes of Latin-1 text; never CR, LF or NUL.
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
// A request target: no space, control character or byte outside Latin-1 (Node's own rule for paths).
const INVALID_PATH = /[^\u0021-\u00ff]/;
/** Hop-by-hop framing this writer sets itself: a value the caller gave for them is replaced. */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

export class LinkHeadError extends Error {
  readonly code = 'MOAT_LINK_HEAD_INVALID';
}

/**
 * The framing for a body: the length the headers state, chunked when they ask for it; otherwise, with `bodyWritten`
 * false (the request ended before any byte), nothing for GET-like methods and a zero length for POST, PUT and PATCH
 * (as Node's client sends), and chunked once a byte is to be sent.
 */
export function framingOf(method: string, headers: http.OutgoingHttpHeaders, bodyWritten: boolean): Framing {
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(Array.isArray(length) ? length[0] : length);
    if (!Number.isSafeInteger(n) || n < 0) throw new LinkHeadError(`invalid content-length: ${String(length)}`);
    return { kind: 'length', length: n };
  }
  const te = headers['transfer-encoding'];
  if (te !== undefined && String(te).toLowerCase() === 'chunked') return { kind: 'chunked' };
  if (bodyWritten) return { kind: 'chunked' };
  return CHUNKED_BY_DEFAULT.has(method) ? { kind: 'length', length: 0 } : { kind: 'none' };
}

/**
 * The request line and headers, ending with the blank line; throws LinkHeadError naming what cannot be sent.
 * `defaultHost` is sent as Host when the headers have none (as Node's client sends the address it connects to).
 */
export function requestHead(
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
  framing: Framing,
  defaultHost: string,
): string {
  if (!TOKEN.test(method)) throw new LinkHeadError(`invalid method: ${JSON.stringify(method)}`);
  if (path.length === 0 || INVALID_PATH.test(path))
    throw new LinkHeadError('the request path has characters a request line cannot carry');
  let head = `${method} ${path} HTTP/1.1\r\n`;
  if (headers.host === undefined) head += `Host: ${defaultHost}\r\n`;
  // The framing the caller gave stays where it gave it, as Node's client keeps it (a server may read header order).
  let framed = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (!TOKEN.test(name)) throw new LinkHeadError(`invalid header name: ${JSON.stringify(name)}`);
    if (FRAMING.has(name.toLowerCase())) {
      const given: string | undefined = framed ? undefined : framingLine(name, framing);
      if (given) head += given;
      framed ||= given !== undefined;
      continue;
    }
    if (Array.isArray(value)) {
      for (const v of value) head += line(name, String(v));
    } else head += line(name, String(value));
  }
  // As Node's client with a keep-alive agent says it (the next process records what it was sent).
  if (headers.connection === undefined) head += 'Connection: keep-alive\r\n';
  if (!framed && framing.kind === 'length') head += `content-length: ${framing.length}\r\n`;
  else if (!framed && framing.kind === 'chunked') head += 'transfer-encoding: chunked\r\n';
  return head + '\r\n';
}

/** The line for a framing header the caller named, when it is the framing used: its value as the framing says it. */
function framingLine(name: string, framing: Framing): string | undefined {
  const lower = name.toLowerCase();
  if (lower === 'content-length' && framing.kind === 'length') return `${name}: ${framing.length}\r\n`;
  if (lower === 'transfer-encoding' && framing.kind === 'chunked') return `${name}: chunked\r\n`;
  return undefined;
}

function line(name: string, value: string): string {
  if (INVALID_VALUE.test(value)) throw new LinkHeadError(`invalid value in header ${name}`);
  return `${name}: ${value}\r\n`;
}
