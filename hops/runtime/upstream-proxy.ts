// egress.upstream_proxy's sockets: egress reaches a destination through the corporate HTTP proxy, with CONNECT for
// HTTPS (TLS to the destination inside the tunnel, verified as a direct connection is) and blind tunnels, and in
// absolute form for plain HTTP (forwarder.ts). Every failure on the way to the proxy, or answered by it, is tagged
// with the proxy's host:port (hops/logic/failure.ts turns it into upstream_proxy_*); the credentials never leave
// this object but in the Proxy-Authorization sent to the proxy.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { parseConnectHead } from '../logic/connect-reply';
import {
  UPSTREAM_PROXY_AUTH,
  UPSTREAM_PROXY_REFUSED,
  UPSTREAM_PROXY_UNAVAILABLE,
  upstreamProxyName,
  type UpstreamProxyError,
  type UpstreamProxySpec,
} from '../logic/upstream-proxy';

// How long the proxy may take to accept the TCP connection (then it is unavailable), and to answer a CONNECT.
const PROXY_CONNECT_TIMEOUT_MS = 10_000;

type Created = (err: Error | null, socket?: Duplex) => void;

export class UpstreamProxy {
  /** host:port, as errors, plan and status show it. */
  readonly name: string;
  readonly http: http.Agent;
  readonly https: https.Agent;

  constructor(
    readonly spec: UpstreamProxySpec,
    private readonly authorization: string | undefined,
    secureContext: tls.SecureContext,
  ) {
    this.name = upstreamProxyName(spec);
    const pool = { keepAlive: true, maxSockets: Infinity, timeout: 30_000, scheduling: 'lifo' as const };
    this.http = new UpstreamHttpAgent(this, pool);
    this.https = new UpstreamHttpsAgent(this, secureContext, pool);
  }

  /** The headers a plain-HTTP request to the proxy carries besides its own. */
  requestHeaders(): Record<string, string> {
    return this.authorization ? { 'proxy-authorization': this.authorization } : {};
  }

  /** A TCP connection to the proxy; an error before it is open is tagged unavailable. */
  dial(timeoutMs = PROXY_CONNECT_TIMEOUT_MS): net.Socket {
    const socket = net.connect({ host: this.spec.host, port: this.spec.port, noDelay: true });
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(Object.assign(new Error('timed out connecting'), { code: 'ETIMEDOUT' })),
    );
    const onError = (err: NodeJS.ErrnoException) => this.tag(err, UPSTREAM_PROXY_UNAVAILABLE, { cause: err.code });
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeListener('error', onError);
    });
    return socket;
  }

  /**
   * CONNECT authority through the proxy: the raw socket once it answered 200; a 407 rejects tagged auth, any other
   * answer tagged refused; no answer within timeoutMs: ETIMEDOUT (the destination's, as the proxy is up).
   */
  connect(authority: string, timeoutMs = PROXY_CONNECT_TIMEOUT_MS): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const raw = this.dial();
      let got = Buffer.alloc(0);
      const timer = setTimeout(
        () => fail(Object.assign(new Error('CONNECT timed out'), { code: 'ETIMEDOUT' })),
        timeoutMs,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        raw.destroy();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        const reply = parseConnectHead(got);
        if (reply === 'incomplete') return;
        if (reply === 'too_large') return fail(this.tag(new Error('answer too large'), UPSTREAM_PROXY_REFUSED, {}));
        clearTimeout(timer);
        raw.removeListener('data', onData);
        raw.removeListener('error', fail);
        raw.removeListener('end', onEnd);
        if (reply.status !== 200) {
          raw.destroy();
          // A CONNECT is answered by the proxy alone: 407, or 401 (tinyproxy's answer to a wrong password), is about
          // egress's credentials.
          const code = reply.status === 407 || reply.status === 401 ? UPSTREAM_PROXY_AUTH : UPSTREAM_PROXY_REFUSED;
          return reject(this.tag(new Error(reply.statusLine), code, { proxyStatus: reply.status }));
        }
        raw.pause();
        const rest = got.subarray(reply.bodyStart);
        if (rest.length > 0) raw.unshift(rest);
        resolve(raw);
      };
      const onEnd = () =>
        fail(this.tag(new Error('closed before answering CONNECT'), UPSTREAM_PROXY_REFUSED, { cause: 'closed' }));
      raw.on('data', onData);
      raw.once('error', fail);
      raw.once('end', onEnd);
      raw.once('connect', () => {
        const auth = this.authorization ? `Proxy-Authorization: ${this.authorization}\r\n` : '';
        raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
      });
    });
  }

  /** The error of a plain-HTTP request the proxy answered 407: the agent gets upstream_proxy_auth. */
  authFailure(): UpstreamProxyError {
    return this.tag(new Error('407 Proxy Authentication Required'), UPSTREAM_PROXY_AUTH, { proxyStatus: 407 });
  }

  private tag(
    err: Error,
    code: UpstreamProxyError['code'],
    extra: Pick<Partial<UpstreamProxyError>, 'proxyStatus' | 'cause'>,
  ): UpstreamProxyError {
    return Object.assign(err, { code, upstreamProxy: this.name }, extra) as UpstreamProxyError;
  }

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** Plain HTTP: every connection goes to the proxy (requests are in absolute form, forwarder.ts). */
class UpstreamHttpAgent extends http.Agent {
  constructor(
    private readonly upstream: UpstreamProxy,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(): Duplex {
    return this.upstream.dial();
  }
}

/** HTTPS: a CONNECT tunnel per connection, TLS to the destination inside it (pooled, keep-alive). */
class UpstreamHttpsAgent extends https.Agent {
  constructor(
    private readonly upstream: UpstreamProxy,
    private readonly secureContext: tls.SecureContext,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: tls.ConnectionOptions, callback: Created): undefined {
    const host = String(options.host);
    const port = Number(options.port ?? 443);
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    this.upstream
      .connect(authority)
      .then((raw) => {
        const servername = options.servername || (net.isIP(host) ? undefined : host);
        const secure = tls.connect({
          socket: raw,
          servername,
          secureContext: this.secureContext,
          ALPNProtocols: ['http/1.1'],
        });
        const onError = (err: Error) => callback(err);
        secure.once('error', onError);
        secure.once('secureConnect', () => {
          secure.removeListener('error', onError);
          callback(null, secure);
        });
      })
      .catch((err: Error) => callback(err));
    return undefined;
  }
}
