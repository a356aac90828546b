// The front door of an isolated third-party hop. Its own listener is inside a network namespace nobody else can
// reach; on this machine, moat's wrapper (supervisor/transparent/hop-main.ts) listens on the hop's port and passes
// connections in. A connection is passed in only once it has said the entrance line with the credential of the
// hop's entrance, which only the Moat link in front of the hop holds: any other local process that connects gets
// 407 and is closed. The line is the first bytes of a connection, before whatever the hop speaks (HTTP proxy
// requests, CONNECT, a base URL's requests), so it works for any proxy without reading its protocol.
import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { listenerIsOurs } from './listener-owner';

const PREFIX = 'MOAT-ENTRANCE ';

/** What the link writes first on every connection to its isolated hop. */
export function entranceLine(credential: string): Buffer {
  return Buffer.from(`${PREFIX}${credential}\r\n`, 'latin1');
}

export type EntranceCheck = { state: 'incomplete' } | { state: 'refused' } | { state: 'open'; rest: Buffer };

/**
 * Reads the entrance line from the first bytes of a connection. Pure: the caller feeds what arrived so far.
 * Refused at once when the bytes cannot start with the (public) prefix: a proxy request, a scan. The credential
 * itself is compared only once all of it has arrived, in constant time: refusing at its first wrong byte would
 * tell a client, byte by byte, how much of a guess was right.
 */
export function checkEntrance(received: Buffer, expected: Buffer): EntranceCheck {
  const prefix = Math.min(received.length, PREFIX.length);
  if (received.toString('latin1', 0, prefix) !== PREFIX.slice(0, prefix)) return { state: 'refused' };
  if (received.length < expected.length) return { state: 'incomplete' };
  if (!timingSafeEqual(received.subarray(0, expected.length), expected)) return { state: 'refused' };
  return { state: 'open', rest: received.subarray(expected.length) };
}

/**
 * A TCP connection to the next process's port on 127.0.0.1 that will carry a credential in clear; with an entrance
 * line, that line goes first. Nothing written to it leaves before the listener is known to be this user's
 * (listener-owner.ts): until then writes are held (corked), and a connection to another user's listener is destroyed
 * with MOAT_FOREIGN_LISTENER unsent (the request fails closed, naming the hop).
 */
export function dialHop(port: number, entrance?: Buffer): net.Socket {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  socket.cork();
  if (entrance) socket.write(entrance);
  socket.once('connect', () => {
    if (listenerIsOurs(port)) return socket.uncork();
    socket.destroy(
      Object.assign(new Error(`127.0.0.1:${port} is held by another user's process; nothing was sent to it`), {
        code: 'MOAT_FOREIGN_LISTENER',
      }),
    );
  });
  return socket;
}

const REFUSAL_BODY =
  JSON.stringify({
    error: 'proxy_auth_required',
    message: "this port is a hop's entrance: only the Moat link in front of the hop may send into it",
  }) + '\n';
export const ENTRANCE_REFUSAL =
  `HTTP/1.1 407 Proxy Authentication Required\r\nContent-Type: application/json\r\nContent-Length: ` +
  `${Buffer.byteLength(REFUSAL_BODY)}\r\nConnection: close\r\n\r\n${REFUSAL_BODY}`;
