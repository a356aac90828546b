// egress.upstream_proxy's sockets: egress reaches a destination through the corporate HTTP proxy, with CONNECT for
// HTTPS (TLS to the destination inside the tunnel, verified as a direct connection is) and blind tunnels, and in
// absolute form for plain HTTP (forwarder.ts). Every failure on the way to the proxy, or answered by it, is tagged
// with the proxy's host:port (hops/logic/failure.ts turns it into upstream_proxy_*); the credentials never leave
// this object but in the Proxy-Authorization sent to the proxy.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ConnectRefusedError, openTunnel, TunnelAgent } from './tunnel-agent';
import { withLiveFreeSockets } from './live-free-sockets';
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

export class UpstreamProxy {
  /** host:port, as errors, plan and status show it. */
  readonly name: string;
  readonly http: http.Agent;
  readonly https: TunnelAgent;

  constructor(
    readonly spec: UpstreamProxySpec,
    private readonly authorization: string | undefined,
    private readonly secureContext: tls.SecureContext,
  ) {
    this.name = upstreamProxyName(spec);
    const pool = { keepAlive: true, maxSockets: Infinity, timeout: 30_000, scheduling: 'lifo' as const };
    this.http = withLiveFreeSockets(new UpstreamHttpAgent(this, pool));
    this.https = withLiveFreeSockets(new UpstreamHttpsAgent(this, secureContext));
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
   * CONNECT authority through the proxy: the raw socket once it answered 200; a 407 (or 401, tinyproxy's answer to a
   * wrong password: a CONNECT is answered by the proxy alone) rejects tagged auth, any other answer tagged refused; no
   * answer within timeoutMs: ETIMEDOUT (the destination's, as the proxy is up).
   */
  connect(authority: string, timeoutMs = PROXY_CONNECT_TIMEOUT_MS): Promise<net.Socket> {
    const options = {
      proxyHost: this.spec.host,
      proxyPort: this.spec.port,
      proxyAuthorization: this.authorization ?? '',
      secureContext: this.secureContext,
      connectTimeoutMs: timeoutMs,
      dial: () => this.dial(),
    };
    return openTunnel(options, authority).catch((err: Error) => {
      if (!(err instanceof ConnectRefusedError)) throw err;
      const code = err.statusCode === 407 || err.statusCode === 401 ? UPSTREAM_PROXY_AUTH : UPSTREAM_PROXY_REFUSED;
      throw this.tag(err, code, { proxyStatus: err.statusCode });
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

/** HTTPS: a CONNECT tunnel through the proxy per connection, TLS to the destination inside (pooled, keep-alive). */
class UpstreamHttpsAgent extends TunnelAgent {
  constructor(
    private readonly upstream: UpstreamProxy,
    secureContext: tls.SecureContext,
  ) {
    super({ proxyHost: upstream.spec.host, proxyPort: upstream.spec.port, proxyAuthorization: '', secureContext });
  }

  protected override open(authority: string): Promise<net.Socket> {
    return this.upstream.connect(authority);
  }
}
