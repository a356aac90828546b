// A WebSocket handshake reaches a Moat process's HTTP servers as an 'upgrade' event, with the raw socket and no
// response object. It is turned into an ordinary request here: a ServerResponse on the same socket, handed to the
// server's request handlers, so the token check, the canonical path, the hop's decision, egress.allow, grants and
// events treat it as every other request, and a refusal is the usual JSON answer (then the socket closes). The
// forwarder sees the mark and upgrades instead of forwarding (hops/runtime/forwarder.ts).
import http from 'node:http';
import type net from 'node:net';
import { isWebSocketHandshake } from '../logic/websocket';

export interface UpgradeMark {
  /** The client's socket (a TLS socket inside a tunnel or on link TLS). */
  socket: net.Socket;
  /** Bytes the client sent after its handshake (its first frames, rarely). */
  head: Buffer;
}

const marks = new WeakMap<http.IncomingMessage, UpgradeMark>();

/** The upgrade of a WebSocket handshake; undefined for any other request. */
export function upgradeOf(req: http.IncomingMessage): UpgradeMark | undefined {
  return marks.get(req);
}

/** How long a refused handshake's socket may stay half-open for its client to read the answer. */
const LINGER_MS = 2000;

/**
 * Hands an upgrade request to `server`'s request handlers with a response on its socket. `track` keeps the socket
 * for the listener's close(). Other upgrades (not a WebSocket's) are answered as the plain requests they also are.
 */
export function acceptUpgrade(
  server: http.Server,
  req: http.IncomingMessage,
  socket: net.Socket,
  head: Buffer,
  track: (socket: net.Socket) => void,
): void {
  socket.on('error', () => socket.destroy());
  track(socket);
  const websocket = isWebSocketHandshake(req.method, req.headers);
  if (websocket) marks.set(req, { socket, head });
  const res = new http.ServerResponse(req);
  res.assignSocket(socket);
  // One exchange per connection: whatever is answered without an upgrade ends it.
  res.shouldKeepAlive = false;
  res.once('finish', () => {
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
  // Node reads no body of an upgrade request (what follows its head is the new protocol's): another upgrade with a
  // body cannot be served as the plain request it also is, so it is refused rather than sent on without its body.
  if (!websocket && hasBody(req)) {
    const text = JSON.stringify({
      error: 'bad_request',
      message: `moat passes only WebSocket upgrades: send this request without "Upgrade: ${req.headers.upgrade}"`,
    });
    res.writeHead(400, { 'content-type': 'application/json', 'x-moat-error': 'bad_request' });
    res.end(`${text}\n`);
    return;
  }
  server.emit('request', req, res);
}

/** The request says a body follows its head. */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
