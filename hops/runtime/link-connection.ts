// One link TLS connection served without Node's http.Server (issue 22): llhttp (Node's own parser, strict, its default
// header limit) reads the requests from the TLS stream below JavaScript, as Node's server has it read them; each
// request becomes an http.IncomingMessage with a LinkAnswer (hops/runtime/link-answer.ts) and is handed to the
// server's 'request' listeners, so the listener's checks run as for any other request. Node's server cost most of what
// serving a request cost a forwarding process (docs/benchmarks.md, "Issue 22, session 22"). One request at a time: a
// request that comes before the last answer has ended waits for it; a third behind it closes the connection unread.
import http from 'node:http';
import type net from 'node:net';
import type tls from 'node:tls';
import { HTTPParser } from './link-client';
import { LinkAnswer, LINK_KEEP_ALIVE_S } from './link-answer';
import { answerClientError } from './client-error';

const methods = (require('_http_common') as { methods: string[] }).methods;
const kOnExecute = (HTTPParser as unknown as { kOnExecute?: number } | undefined)?.kOnExecute;
const kOnMessageBegin = (HTTPParser as unknown as { kOnMessageBegin?: number } | undefined)?.kOnMessageBegin;
/** As Node's server: at most 2000 header fields are kept (the rest are read and dropped). */
const MAX_HEADER_LINES = 4000;
/** How long a connection being closed may stay half-open for its client to read the answer. */
const LINGER_MS = 1000;
/** What llhttp is told by kOnHeadersComplete: read the body, or stop after the head (an upgrade's or CONNECT's). */
const READ_BODY = 0;
const STOP_AFTER_HEAD = 2;

export interface LinkConnectionOptions {
  /** The server whose 'request' listeners take each request. */
  server: http.Server;
  /** How long a request's head may take, from the connection or from the head's first byte. */
  headersTimeoutMs: number;
  /** Takes an upgrade request and its socket, as the server's 'upgrade' event would. */
  upgrade: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void;
}

/** Whether this Node lets llhttp read a TLS socket natively (else the listener keeps Node's http.Server). */
export const leanLinkAvailable = HTTPParser !== undefined && kOnExecute !== undefined && kOnMessageBegin !== undefined;

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  consume(handle: object): void;
  unconsume(): void;
  getCurrentBuffer(): Buffer;
  close(): void;
  [key: number]: unknown;
}

interface NativeStream {
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}

export function serveLinkConnection(socket: tls.TLSSocket, o: LinkConnectionOptions): void {
  const P = HTTPParser!;
  const parser = new P() as unknown as Parser;
  // Strict (no lenient flags), the default head limit (16 KB, --max-http-header-size), as Node's server.
  parser.initialize(P.REQUEST, {}, 0, 0);
  /** Header lines and URL text llhttp hands over before a head is whole (it passes lines in batches of 32). */
  let lines: string[] = [];
  let urlPart = '';
  let req: http.IncomingMessage | undefined;
  let res: LinkAnswer | undefined;
  let upgrading: http.IncomingMessage | undefined;
  /** A request that came before its predecessor's answer ended, handed on when that answer's 'finish' comes. */
  let deferred: (() => void) | undefined;
  let consumed = true;
  let closed = false;
  // A head must be whole within headersTimeoutMs of the connection, or of its first byte (kOnMessageBegin).
  let headTimer: NodeJS.Timeout | undefined;
  const headTimedOut = () => {
    headTimer = undefined;
    if (!closed)
      answerClientError(Object.assign(new Error('headers timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
  };
  const startHeadClock = () => {
    if (!headTimer && !closed) headTimer = setTimeout(headTimedOut, o.headersTimeoutMs);
  };
  const stopHeadClock = () => {
    if (headTimer) clearTimeout(headTimer);
    headTimer = undefined;
  };
  /** Ends the connection after what is written, and destroys it if the client does not close its side soon. */
  const closeSoon = () => {
    stop();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  const refuse = (status: 400) => {
    stop();
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };

  parser[kOnMessageBegin!] = startHeadClock;
  parser[P.kOnHeaders] = (more: string[], url: string) => {
    if (lines.length < MAX_HEADER_LINES) lines.push(...more);
    urlPart += url;
  };
  parser[P.kOnHeadersComplete] = (
    major: number,
    minor: number,
    raw: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    stopHeadClock();
    socket.setTimeout(0);
    const all = raw ?? lines;
    const target = url || urlPart;
    lines = [];
    urlPart = '';
    if (closed) return STOP_AFTER_HEAD;
    // One at a time. A link client sends the next request once it has read an answer to its end, which can be before
    // that answer has ended here (its last bytes out, its end still to come from the process after): such a request
    // waits for it, as Node's server queued it. A third, behind one that waits, is pipelining no link client does:
    // the connection closes.
    const waitFor = res && !res.writableFinished ? res : undefined;
    if (waitFor && deferred) {
      stop();
      socket.destroy();
      return STOP_AFTER_HEAD;
    }
    const incoming = new http.IncomingMessage(socket as unknown as net.Socket);
    incoming.httpVersionMajor = major;
    incoming.httpVersionMinor = minor;
    incoming.httpVersion = `${major}.${minor}`;
    incoming.method = methods[method];
    incoming.url = target;
    (incoming as unknown as { _addHeaderLines(raw: string[], n: number): void })._addHeaderLines(all, all.length);
    // Link TLS carries absolute-form requests only; and an HTTP/1.1 request names its Host, as Node's server requires.
    if (incoming.method === 'CONNECT' || (major === 1 && minor >= 1 && incoming.headers.host === undefined)) {
      refuse(400);
      return STOP_AFTER_HEAD;
    }
    if (upgrade) {
      // The rest of the connection is the new protocol's: handed on once llhttp stops (kOnExecute). As Node's server
      // gives an upgrade request: complete, its stream ended (no body is read).
      (incoming as unknown as { upgrade: boolean }).upgrade = true;
      incoming.complete = true;
      incoming.push(null);
      upgrading = incoming;
      return STOP_AFTER_HEAD;
    }
    req = incoming;
    const answer = new LinkAnswer(incoming, socket);
    answer.shouldKeepAlive = keepAlive;
    res = answer;
    answer.once('finish', () => answered(incoming, answer));
    answer.once('close', () => {
      if (!answer.writableFinished) socket.destroy();
    });
    const dispatch = () => {
      const expect = incoming.headers.expect;
      if (expect !== undefined) {
        // As Node's server answers: 100 Continue at once, any other expectation 417 and the connection closed.
        if (!/^100-continue$/i.test(expect)) {
          answer.shouldKeepAlive = false;
          answer.writeHead(417, { 'content-length': 0 });
          return void answer.end();
        }
        if (major === 1 && minor === 1) socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
      }
      o.server.emit('request', incoming, answer);
    };
    if (waitFor) deferred = dispatch;
    else dispatch();
    return READ_BODY;
  };
  parser[P.kOnBody] = (chunk: Buffer) => {
    if (req && !req.push(chunk)) socket.pause();
  };
  parser[P.kOnMessageComplete] = () => {
    // Trailers come as header lines after the body: read and dropped, never taken into the next head.
    lines = [];
    urlPart = '';
    const done = req;
    req = undefined;
    if (done) {
      done.complete = true;
      done.push(null);
    }
    // A body that filled its reader paused the socket; once it has ended nothing reads it again, so the next request
    // is read from here (as Node's server forces it).
    if (socket.readable) socket.resume();
  };
  parser[kOnExecute!] = (result: number | Error) => {
    // Reads no 'data' event: the socket's idle timer is kept fresh here, as Node's server keeps it.
    (socket as unknown as { _unrefTimer(): void })._unrefTimer();
    if (result instanceof Error) return fail(result as NodeJS.ErrnoException);
    if (upgrading) handUpgrade(result);
  };
  const fail = (err: NodeJS.ErrnoException) => {
    if (closed) return;
    if (res && !res.writableFinished) {
      stop();
      return void socket.destroy();
    }
    stop();
    answerClientError(err, socket);
  };

  /** llhttp stopped after an upgrade's head, `parsed` bytes into what it read last: the rest is the new protocol's. */
  const handUpgrade = (parsed: number) => {
    const incoming = upgrading!;
    upgrading = undefined;
    const rest = Buffer.from(parser.getCurrentBuffer().subarray(parsed));
    release();
    // The socket is the new protocol's from here, read as any socket is (as Node's server hands an upgrade on).
    socket.removeListener('pause', onPause);
    socket.removeListener('resume', onResume);
    socket.removeListener('timeout', onTimeout);
    socket.removeListener('close', onClose);
    (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    o.upgrade(incoming, socket as unknown as net.Socket, rest);
  };

  /** The answer is out: the connection waits for the next request, or closes. */
  const answered = (incoming: http.IncomingMessage, answer: LinkAnswer) => {
    if (res === answer) res = undefined;
    if (!answer.shouldKeepAlive) return closeSoon();
    // A body not read by whoever answered is read and dropped, so the next request's head can be parsed.
    if (!incoming.complete) incoming.resume();
    const waiting = deferred;
    deferred = undefined;
    if (waiting) return waiting();
    if (!res) socket.setTimeout(LINK_KEEP_ALIVE_S * 1000);
  };

  const stop = () => {
    closed = true;
    stopHeadClock();
  };
  /** Gives the socket's reads back and frees the parser, once llhttp has returned (this may run inside it). */
  const release = () => {
    stop();
    if (consumed) parser.unconsume();
    consumed = false;
    setImmediate(() => parser.close());
  };

  const handle = (socket as unknown as { _handle: NativeStream & { _consumed?: boolean } })._handle;
  handle._consumed = true;
  parser.consume(handle);
  // The socket's pause and resume reach the native reads only this way once llhttp consumes them (as in Node's server).
  const onPause = () => {
    if (handle.reading) {
      handle.reading = false;
      handle.readStop();
    }
  };
  const onResume = () => {
    if (!handle.reading) {
      handle.reading = true;
      handle.readStart();
    }
  };
  socket.on('pause', onPause);
  socket.on('resume', onResume);
  const onTimeout = () => socket.destroy();
  const onClose = () => {
    release();
    if (req && !req.complete) req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    if (res && !res.writableFinished) res.destroy();
  };
  socket.on('timeout', onTimeout);
  socket.on('error', () => socket.destroy());
  socket.on('close', onClose);
  // The first head's time runs from the connection.
  startHeadClock();
}
