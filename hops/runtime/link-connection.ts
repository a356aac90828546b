// One link TLS connection served without Node's http.Server (WIP, issue 22): llhttp (Node's own parser, strict, its
// default header limit) reads the requests from the TLS stream below JavaScript, as Node's server has it read them;
// each request becomes an http.IncomingMessage with a LinkAnswer (hops/runtime/link-answer.ts) and is handed to the
// server's 'request' listeners, so the listener's checks run as for any other request. One request at a time (the
// link client never pipelines); a client that sends the next before its answer is cut off.
import http from 'node:http';
import type net from 'node:net';
import type tls from 'node:tls';
import { HTTPParser } from './link-client';
import { LinkAnswer, LINK_KEEP_ALIVE_S } from './link-answer';
import { answerClientError } from './client-error';

const methods = (require('_http_common') as { methods: string[] }).methods;
const kOnExecute = (HTTPParser as unknown as { kOnExecute: number } | undefined)?.kOnExecute;

export interface LinkConnectionOptions {
  /** The server whose 'request' listeners take each request (and whose 'upgrade' path takes upgrades). */
  server: http.Server;
  /** How long a request's head may take, from the connection or the end of the last answer. */
  headersTimeoutMs: number;
  /** Takes an upgrade request and its socket, as the server's 'upgrade' event would. */
  upgrade: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void;
}

/** Whether this Node lets llhttp read a TLS socket natively (else the listener keeps Node's http.Server). */
export const leanLinkAvailable = HTTPParser !== undefined && kOnExecute !== undefined;

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  consume(handle: object): void;
  unconsume(): void;
  getCurrentBuffer(): Buffer;
  close(): void;
  [key: number]: unknown;
}

interface NativeStream {
  _consumed?: boolean;
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}

export function serveLinkConnection(socket: tls.TLSSocket, o: LinkConnectionOptions): void {
  const P = HTTPParser!;
  const parser = new P() as unknown as Parser;
  parser.initialize(P.REQUEST, {}, 0, 0);
  let lines: string[] = [];
  let req: http.IncomingMessage | undefined;
  let res: LinkAnswer | undefined;
  let upgrading: http.IncomingMessage | undefined;
  let closed = false;
  // A request's head must be whole within headersTimeoutMs of the connection or of its first byte; an idle
  // kept-alive connection is closed after the keep-alive time the answers announce.
  let headTimer: NodeJS.Timeout | undefined = setTimeout(() => headTimedOut(), o.headersTimeoutMs);
  const headTimedOut = () => {
    headTimer = undefined;
    if (!closed)
      answerClientError(Object.assign(new Error('headers timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
  };
  const fail = (err: NodeJS.ErrnoException) => {
    if (closed) return;
    if (res && !res.writableFinished) return void socket.destroy();
    answerClientError(err, socket);
  };

  parser[P.kOnHeaders] = (more: string[]) => void lines.push(...more);
  parser[P.kOnHeadersComplete] = (
    major: number,
    minor: number,
    raw: string[] | undefined,
    method: number,
    url: string,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    if (headTimer) clearTimeout(headTimer);
    headTimer = undefined;
    socket.setTimeout(0);
    const all = raw ?? lines;
    lines = [];
    // One at a time: a second request while an answer is open is no link client's.
    if (res && !res.writableFinished) {
      socket.destroy();
      return 1;
    }
    const incoming = new http.IncomingMessage(socket as unknown as net.Socket);
    incoming.httpVersionMajor = major;
    incoming.httpVersionMinor = minor;
    incoming.httpVersion = `${major}.${minor}`;
    incoming.method = methods[method];
    incoming.url = url;
    (incoming as unknown as { _addHeaderLines(raw: string[], n: number): void })._addHeaderLines(all, all.length);
    if (incoming.method === 'CONNECT') {
      // Link TLS carries absolute-form requests only.
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return 1;
    }
    if (upgrade) {
      // The rest of the connection is the new protocol's: handed on once llhttp stops (kOnExecute). As Node's server
      // gives an upgrade request: complete, its stream ended (no body is read).
      (incoming as unknown as { upgrade: boolean }).upgrade = true;
      incoming.complete = true;
      incoming.push(null);
      upgrading = incoming;
      return 0;
    }
    req = incoming;
    const answer = new LinkAnswer(incoming, socket);
    answer.shouldKeepAlive = keepAlive;
    res = answer;
    answer.once('finish', () => answered(incoming, answer));
    answer.once('close', () => {
      if (!answer.writableFinished) socket.destroy();
    });
    const expect = incoming.headers.expect;
    if (expect !== undefined) {
      // As Node's server answers: 100 Continue at once, any other expectation 417 and the connection closed.
      if (!/^100-continue$/i.test(expect)) {
        answer.shouldKeepAlive = false;
        answer.writeHead(417, { 'content-length': 0 });
        answer.end();
        return 0;
      }
      if (major === 1 && minor === 1) socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    }
    o.server.emit('request', incoming, answer);
    return 0;
  };
  parser[P.kOnBody] = (chunk: Buffer) => {
    if (req && !req.push(chunk)) socket.pause();
  };
  parser[P.kOnMessageComplete] = () => {
    const done = req;
    if (!done) return;
    req = undefined;
    done.complete = true;
    done.push(null);
  };
  parser[kOnExecute!] = (result: number | Error) => {
    // Reads no 'data' event: the socket's idle timer is kept fresh here, as Node's server keeps it.
    (socket as unknown as { _unrefTimer(): void })._unrefTimer();
    if (result instanceof Error) return fail(result as NodeJS.ErrnoException);
    if (upgrading) return handUpgrade(result);
    // Bytes of a head that is not whole yet, on a connection between requests: its time starts now.
    if (result > 0 && !req && !res && !headTimer && !closed) headTimer = setTimeout(headTimedOut, o.headersTimeoutMs);
  };

  /** llhttp stopped after an upgrade's head, `parsed` bytes into what it read last: the rest is the new protocol's. */
  const handUpgrade = (parsed: number) => {
    const incoming = upgrading!;
    upgrading = undefined;
    const rest = Buffer.from(parser.getCurrentBuffer().subarray(parsed));
    parser.unconsume();
    // Not closed inside its own callback (this runs within llhttp's read): freed once it has returned.
    setImmediate(() => parser.close());
    stop();
    // The socket is the new protocol's from here, read as any socket is (as Node's server hands an upgrade on).
    socket.removeListener('pause', onPause);
    socket.removeListener('resume', onResume);
    socket.removeListener('timeout', onTimeout);
    socket.removeListener('close', onClose);
    (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    o.upgrade(incoming, socket as unknown as net.Socket, rest ?? Buffer.alloc(0));
  };

  /** The answer is out: the connection waits for the next request, or closes. */
  const answered = (incoming: http.IncomingMessage, answer: LinkAnswer) => {
    if (res === answer) res = undefined;
    if (!answer.shouldKeepAlive) {
      socket.end();
      return;
    }
    // A body not read by whoever answered is read and dropped, so the next request's head can be parsed.
    if (!incoming.complete) incoming.resume();
    socket.setTimeout(LINK_KEEP_ALIVE_S * 1000);
  };

  const stop = () => {
    closed = true;
    if (headTimer) clearTimeout(headTimer);
    headTimer = undefined;
  };

  const handle = (socket as unknown as { _handle: NativeStream })._handle;
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
    if ((socket as unknown as { _paused?: boolean })._paused) return void socket.pause();
    if (!handle.reading) {
      handle.reading = true;
      handle.readStart();
    }
  };
  socket.on('pause', onPause);
  socket.on('resume', onResume);
  const onTimeout = () => socket.destroy();
  const onClose = () => {
    stop();
    parser.close();
    if (req && !req.complete) req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    if (res && !res.writableFinished) res.destroy();
  };
  socket.on('timeout', onTimeout);
  socket.on('error', () => socket.destroy());
  socket.on('close', onClose);
}
