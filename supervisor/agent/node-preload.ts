// Runs inside the AGENT's Node process, not in a Moat process: `moat chain env` and `moat chain run` put
// `--require <this file>` into NODE_OPTIONS. Node 20 ignores HTTPS_PROXY for its own fetch, http and https, so an
// agent written in Node would go around the chain (or fail with ENOTFOUND). When a proxy is set and this Node does
// not honour NODE_USE_ENV_PROXY itself, this file:
//   - makes undici's EnvHttpProxyAgent the global dispatcher: Node's built-in fetch and every undici copy that uses
//     the global dispatcher (they share one global symbol) go through the proxy and honour NO_PROXY;
//   - replaces http.globalAgent (absolute-form requests to the proxy) and https.globalAgent (CONNECT tunnels), which
//     honour NO_PROXY. A program that passes its own `agent:` keeps it.
// Where Node does honour it, this file only drops the "experimental" warning Node 22 prints (env-proxy-warning.ts).
// The Moat CA comes from NODE_EXTRA_CA_CERTS, which Node reads itself. This file prints nothing, ever: the proxy URL
// carries the chain token. Any failure leaves Node as it was (the request then fails or goes where it would have).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { handOverWhenSecure } from '../../hops/runtime/secure-handover';
import { bypassesProxy, honoursEnvProxy, parseNoProxy, proxyFor, type ProxyTarget } from './proxy-env';
import { dropEnvProxyWarning, warnsOfEnvProxy } from './env-proxy-warning';

type NoProxy = ReturnType<typeof parseNoProxy>;
type Callback = (err: Error | null, socket?: Duplex) => void;
/** What ClientRequest carries that the agent may rewrite before the head is written. */
type PendingRequest = http.ClientRequest & { _header?: string | null };

const CONNECT_TIMEOUT_MS = 30_000;
const MAX_REPLY_HEAD = 16 * 1024;

/** https.globalAgent: each connection is a CONNECT tunnel through the proxy, TLS end to end inside it. */
class TunnellingAgent extends https.Agent {
  constructor(
    private readonly proxy: ProxyTarget,
    private readonly noProxy: NoProxy,
  ) {
    // Node 20's own https.globalAgent options.
    super({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
  }

  override createConnection(options: tls.ConnectionOptions, callback: Callback): Duplex | undefined {
    const host = String(options.host ?? 'localhost');
    const port = Number(options.port ?? 443);
    if (bypassesProxy(host, port, this.noProxy)) {
      // https.Agent's own createConnection (typed on http.Agent without its options).
      return (
        https.Agent.prototype as unknown as { createConnection(o: tls.ConnectionOptions): Duplex }
      ).createConnection.call(this, options);
    }
    openTunnel(this.proxy, host, port)
      .then((raw) => {
        const secure = tls.connect({ ...options, socket: raw });
        handOverWhenSecure(secure, callback);
      })
      .catch((err: Error) => callback(err));
    return undefined;
  }
}

/** http.globalAgent: requests go to the proxy in absolute form (`GET http://host/path`), with its credentials. */
class AbsoluteFormAgent extends http.Agent {
  constructor(
    private readonly proxy: ProxyTarget,
    private readonly noProxy: NoProxy,
  ) {
    super({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
  }

  addRequest(req: PendingRequest, options: http.ClientRequestArgs): void {
    const host = String(options.hostname ?? options.host ?? 'localhost');
    const port = Number(options.port ?? 80);
    const base = http.Agent.prototype as unknown as { addRequest(r: http.ClientRequest, o: object): void };
    if (options.socketPath || bypassesProxy(host, port, this.noProxy)) return base.addRequest.call(this, req, options);
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    req.path = `http://${authority}${req.path}`;
    const auth = this.proxy.authorization;
    if (req._header) {
      // The head was already built (an Expect header or headers given as an array): rewrite its request line.
      const rest = req._header.slice(req._header.indexOf('\r\n') + 2);
      req._header = `${req.method} ${req.path} HTTP/1.1\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}${rest}`;
    } else if (auth) {
      req.setHeader('Proxy-Authorization', auth);
    }
    base.addRequest.call(this, req, {
      ...options,
      host: this.proxy.host,
      hostname: this.proxy.host,
      port: this.proxy.port,
    });
  }
}

/** A raw socket to host:port through the proxy's CONNECT. Errors never name the proxy's URL. */
function openTunnel(proxy: ProxyTarget, host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    const raw = net.connect({ host: proxy.host, port: proxy.port, noDelay: true });
    let head = Buffer.alloc(0);
    const fail = (err: Error) => {
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(codedError('the proxy did not answer CONNECT in time', 'ETIMEDOUT')),
      CONNECT_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_REPLY_HEAD) fail(codedError('the proxy answered CONNECT with too long a head', 'EPROTO'));
        return;
      }
      clearTimeout(timer);
      raw.removeListener('data', onData);
      raw.removeListener('error', fail);
      const status = /^HTTP\/1\.[01] (\d{3})([^\r\n]*)/.exec(head.subarray(0, end).toString('latin1'));
      if (!status || status[1] !== '200') {
        raw.destroy();
        const line = status ? `${status[1]}${status[2]}` : 'something that is not HTTP';
        reject(codedError(`the proxy refused CONNECT to ${authority}: ${line.slice(0, 200)}`, 'ECONNREFUSED'));
        return;
      }
      const rest = head.subarray(end + 4);
      raw.pause();
      if (rest.length > 0) raw.unshift(rest);
      resolve(raw);
    };
    raw.on('data', onData);
    raw.once('error', (err: NodeJS.ErrnoException) =>
      fail(codedError(`cannot reach the proxy (${err.code ?? 'error'})`, err.code ?? 'ECONNREFUSED')),
    );
    raw.once('connect', () => {
      const auth = proxy.authorization ? `Proxy-Authorization: ${proxy.authorization}\r\n` : '';
      raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
    });
  });
}

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

// The global dispatcher Node's built-in fetch and every undici copy read (undici's lib/global.js).
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/** An EnvHttpProxyAgent of the undici in moat's own node_modules; undefined if it cannot be loaded. */
function makeDispatcher(): object | undefined {
  try {
    const index = require.resolve('undici');
    if (require.cache[index]?.loaded === false) {
      // undici's index is loading this very moment (its lib/global.js asked for the dispatcher): reading its exports
      // now would make Node warn; its class file is complete already.
      const Loaded = require('undici/lib/dispatcher/env-http-proxy-agent.js') as new () => object;
      return new Loaded();
    }
    const { EnvHttpProxyAgent } = require(index) as typeof import('undici');
    return new EnvHttpProxyAgent();
  } catch {
    return undefined;
  }
}

/**
 * Loading undici costs about 200 ms, so the dispatcher is made when something first asks for it (the first fetch, or
 * an undici being loaded), not at start. A dispatcher the program sets itself replaces this one, as it would have
 * replaced undici's default.
 */
function installDispatcher(): void {
  if (Object.getOwnPropertyDescriptor(globalThis, GLOBAL_DISPATCHER)) return;
  const slot = globalThis as Record<symbol, unknown>;
  // Loading undici may have set its default already (non-configurable but writable, as undici defines it).
  const settle = (value: unknown) => {
    if (Object.getOwnPropertyDescriptor(slot, GLOBAL_DISPATCHER)?.configurable) delete slot[GLOBAL_DISPATCHER];
    if (value !== undefined)
      Object.defineProperty(slot, GLOBAL_DISPATCHER, { value, writable: true, enumerable: false, configurable: false });
  };
  Object.defineProperty(globalThis, GLOBAL_DISPATCHER, {
    configurable: true,
    enumerable: false,
    get() {
      delete slot[GLOBAL_DISPATCHER];
      settle(makeDispatcher());
      return slot[GLOBAL_DISPATCHER];
    },
    set: settle,
  });
}

function install(env: NodeJS.ProcessEnv): void {
  if (env.NODE_USE_ENV_PROXY === '1' && honoursEnvProxy(process.version)) {
    // Node routes through the proxy itself; all that is left is the warning Node 22's undici prints about it.
    if (warnsOfEnvProxy(process.version)) dropEnvProxyWarning();
    return;
  }
  const httpsProxy = proxyFor(env, 'https');
  const httpProxy = proxyFor(env, 'http');
  if (!httpsProxy && !httpProxy) return;
  const noProxy = parseNoProxy(env.no_proxy ?? env.NO_PROXY);
  // undici missing or too old: fetch stays as it was; the http(s) agents below still apply.
  installDispatcher();
  if (httpsProxy) https.globalAgent = new TunnellingAgent(httpsProxy, noProxy);
  if (httpProxy) http.globalAgent = new AbsoluteFormAgent(httpProxy, noProxy);
}

try {
  install(process.env);
} catch {
  // Never break the agent's program, never print (see the head comment).
}
