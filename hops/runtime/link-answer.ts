// The answer to one request on link TLS, written without Node's http.ServerResponse (WIP, issue 22): the part of its
// interface the listener and the forwarder use (status, headers, writeHead, flushHeaders, a Writable body, end,
// destroy, 'finish' and 'close'). The head is held until the first piece of the body or the end, so that both leave
// in one write, as ServerResponse sends them. Node's ServerResponse was most of what serving a request cost a
// forwarding process (docs/benchmarks.md, "Issue 22, session 22").
import http from 'node:http';
import type tls from 'node:tls';
import { Writable } from 'node:stream';

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
/** Node's server says how long it keeps an idle connection; the link client reads it (keep-alive-hint.ts). */
export const LINK_KEEP_ALIVE_S = 65;

let dateSecond = -1;
let dateText = '';
/** The Date header, made once a second as Node's server makes it. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

type HeaderValue = string | number | readonly string[];

/**
 * As ServerResponse checks a header (ERR_INVALID_HTTP_TOKEN, ERR_INVALID_CHAR): no text in a name or value can end
 * its line and start another header, or another answer, at the process before.
 */
function checkField(name: string, value: HeaderValue): void {
  http.validateHeaderName(name);
  if (Array.isArray(value)) for (const v of value as readonly string[]) http.validateHeaderValue(name, v);
  else http.validateHeaderValue(name, String(value));
}

export class LinkAnswer extends Writable {
  statusCode = 200;
  statusMessage = '';
  shouldKeepAlive = true;
  readonly req: http.IncomingMessage;
  readonly socket: tls.TLSSocket;
  /** Lower-case name -> [name as given, value]. */
  private readonly fields = new Map<string, [string, HeaderValue]>();
  private head?: string;
  private headWritten = false;
  private chunked = false;
  private noBody = false;

  constructor(req: http.IncomingMessage, socket: tls.TLSSocket) {
    super({ decodeStrings: true });
    this.req = req;
    this.socket = socket;
  }

  get headersSent(): boolean {
    return this.head !== undefined;
  }

  setHeader(name: string, value: HeaderValue): this {
    checkField(name, value);
    if (this.head !== undefined)
      throw Object.assign(new Error('Cannot set headers after they are sent to the client'), {
        code: 'ERR_HTTP_HEADERS_SENT',
      });
    this.fields.set(name.toLowerCase(), [name, value]);
    return this;
  }

  writeHead(status: number, message?: string | http.OutgoingHttpHeaders, headers?: http.OutgoingHttpHeaders): this {
    if (this.head !== undefined) return this;
    // As ServerResponse: a status of three digits, a reason phrase that cannot end the status line.
    if (!Number.isInteger(status) || status < 100 || status > 999)
      throw Object.assign(new RangeError(`Invalid status code: ${status}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
    this.statusCode = status;
    if (typeof message === 'string') {
      if (/[^\t\x20-\x7e\x80-\xff]/.test(message))
        throw Object.assign(new TypeError('Invalid character in statusMessage'), { code: 'ERR_INVALID_CHAR' });
      this.statusMessage = message;
    } else headers ??= message;
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (value === undefined) continue;
      checkField(name, value);
      this.fields.set(name.toLowerCase(), [name, value]);
    }
    this.head = this.makeHead();
    return this;
  }

  /** Sends the head now, before any body. */
  flushHeaders(): void {
    if (this.head === undefined) this.head = this.makeHead();
    this.writeHeadOut();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.head === undefined) this.head = this.makeHead();
    if (this.noBody || chunk.length === 0) {
      this.writeHeadOut();
      return done();
    }
    const socket = this.socket;
    socket.cork();
    this.writeHeadOut();
    if (this.chunked) {
      socket.write(chunk.length.toString(16) + CRLF, 'latin1');
      socket.write(chunk);
      socket.write(CRLF, 'latin1', () => done());
    } else socket.write(chunk, () => done());
    socket.uncork();
  }

  override _final(done: (err?: Error | null) => void): void {
    // Ended before any head or body: an empty answer says so.
    if (this.head === undefined) {
      if (!this.fields.has('content-length') && !this.fields.has('transfer-encoding'))
        this.fields.set('content-length', ['Content-Length', 0]);
      this.head = this.makeHead();
    }
    const socket = this.socket;
    // The connection is gone: this answer never finishes (its 'close' comes without 'finish').
    if (socket.destroyed) return void this.destroy();
    socket.cork();
    this.writeHeadOut();
    if (this.chunked) socket.write(LAST_CHUNK, 'latin1', () => done());
    else done();
    socket.uncork();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // An answer given up before its end: the connection cannot carry another.
    if (!this.writableFinished) this.socket.destroy();
    done(err);
  }

  private writeHeadOut(): void {
    if (this.headWritten || this.head === undefined) return;
    this.headWritten = true;
    this.socket.write(this.head, 'latin1');
  }

  private makeHead(): string {
    const status = this.statusCode;
    const message = this.statusMessage || http.STATUS_CODES[status] || 'unknown';
    this.noBody = this.req.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    let head = `HTTP/1.1 ${status} ${message}${CRLF}`;
    let length = false;
    let date = false;
    for (const [lower, [name, value]] of this.fields) {
      // Whoever answers may ask for the connection to close after it, as with ServerResponse.
      if (lower === 'connection' && /\bclose\b/i.test(String(value))) this.shouldKeepAlive = false;
      if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') continue;
      if (lower === 'content-length') length = true;
      if (lower === 'date') date = true;
      if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}${CRLF}`;
      else head += `${name}: ${String(value)}${CRLF}`;
    }
    if (!date) head += `Date: ${httpDate()}${CRLF}`;
    // HTTP/1.0 knows no chunks: a body of no stated length ends with the connection.
    if (this.req.httpVersionMinor === 0 && !length) this.shouldKeepAlive = false;
    this.chunked = !length && !this.noBody && this.req.httpVersionMinor !== 0;
    if (this.chunked) head += `Transfer-Encoding: chunked${CRLF}`;
    head += this.shouldKeepAlive
      ? `Connection: keep-alive${CRLF}Keep-Alive: timeout=${LINK_KEEP_ALIVE_S}${CRLF}${CRLF}`
      : `Connection: close${CRLF}${CRLF}`;
    return head;
  }
}
