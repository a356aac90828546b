// A keep-alive HTTPS agent whose connections go through an HTTP proxy with CONNECT:
// the way a Moat process reaches the next hop. The TLS session it opens inside the
// tunnel ends at the next Moat link, verified against the Moat CA; pooling the
// resulting sockets means a boundary costs a handshake per connection, not per request.
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { parseConnectHead } from '../logic/connect-reply';
import { dialHop } from './hop-entrance';
import { handOverWhenSecure } from './secure-handover';

export interface TunnelAgentOptions {
  proxyHost: string;
  proxyPort: number;
  /** Sent as Proxy-Authorization on every CONNECT; empty: none (a hop that dials directly gets no chain token). */
  proxyAuthorization: string;
  /** Trusts the Moat CA (and the CA of an intercepting hop behind this link). */
  secureContext: tls.SecureContext;
  connectTimeoutMs?: number;
  /** The proxy is an isolated hop: this line goes first on every connection (hop-entrance.ts). */
  entrance?: Buffer;
  /** Opens the TCP connection to the proxy instead (egress.upstream_proxy's, upstream-proxy.ts). */
  dial?: () => net.Socket;
}

/** Raised when the proxy answers CONNECT with something other than 200. */
export class ConnectRefusedError extends Error {
  readonly code = 'MOAT_CONNECT_REFUSED';
  constructor(
    readonly statusCode: number,
    readonly statusText: string,
  ) {
    super(`answered CONNECT with ${statusCode} ${statusText}`.trim());
  }
}

type Callback = (err: Error | null, socket?: Duplex) => void;

export class TunnelAgent extends https.Agent {
  constructor(private readonly tunnel: TunnelAgentOptions) {
    super({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, timeout: 30_000, scheduling: 'lifo' });
  }

  override createConnection(options: tls.ConnectionOptions, callback: Callback): undefined {
    const host = String(options.host);
    const port = Number(options.port ?? 443);
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    this.open(authority)
      .then((raw) => {
        const servername = options.servername || (net.isIP(host) ? undefined : host);
        const secure = tls.connect({
          socket: raw,
          servername,
          secureContext: this.tunnel.secureContext,
          ALPNProtocols: ['http/1.1'],
        });
        handOverWhenSecure(secure, callback);
      })
      .catch((err: Error) => callback(err));
    return undefined;
  }

  /** The raw tunnel to authority, TLS is then opened inside. */
  protected open(authority: string): Promise<net.Socket> {
    return openTunnel(this.tunnel, authority);
  }
}

/** Opens a CONNECT tunnel to authority through the proxy and resolves with the raw socket. */
export function openTunnel(opts: TunnelAgentOptions, authority: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // A proxy of the chain on 127.0.0.1: only to a listener of this user (hop-entrance.ts).
    const raw = opts.dial
      ? opts.dial()
      : opts.proxyHost === '127.0.0.1'
        ? dialHop(opts.proxyPort, opts.entrance)
        : net.connect({ host: opts.proxyHost, port: opts.proxyPort, noDelay: true });
    let head = Buffer.alloc(0);
    const timer = setTimeout(
      () => fail(Object.assign(new Error('CONNECT timed out'), { code: 'ETIMEDOUT' })),
      opts.connectTimeoutMs ?? 10_000,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const reply = parseConnectHead(head);
      if (reply === 'incomplete') return;
      if (reply === 'too_large') return fail(new Error('CONNECT response headers too large'));
      clearTimeout(timer);
      raw.removeListener('data', onData);
      raw.removeListener('error', fail);
      if (reply.status !== 200) {
        raw.destroy();
        reject(new ConnectRefusedError(reply.status, reply.reason));
        return;
      }
      const rest = head.subarray(reply.bodyStart);
      raw.pause();
      if (rest.length > 0) raw.unshift(rest);
      resolve(raw);
    };
    raw.on('data', onData);
    raw.once('error', fail);
    raw.once('connect', () => {
      const auth = opts.proxyAuthorization ? `Proxy-Authorization: ${opts.proxyAuthorization}\r\n` : '';
      raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
    });
  });
}
