// What a listener answers a client whose request it could not read: a status line, then the
// connection is closed. A 'clientError' listener replaces Node's own answer, and the listeners used to
// close without one, so a client saw an empty reply instead of why. Kept to Node's choice of codes.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

const LINGER_MS = 1000;

/** 431 for headers past the limit, 408 for headers not complete in time, 400 for anything unparsable. */
export function clientErrorStatus(code: string | undefined): 400 | 408 | 431 {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Node's own test: a response already started on this connection cannot take a status line any more.
  const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const status = clientErrorStatus(err.code);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  // A client that does not close its side must not hold the socket.
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
