// Sends one request on to the next hop (over link TLS to a Moat process, through a CONNECT tunnel
// for https to a third-party one, absolute-form for http) or, at egress, to the destination, and
// streams the response back: headers flushed at once (an SSE stream's headers must not wait for its
// first event), bodies piped, never buffered. HTTPS to a Moat process or a destination goes by the
// link client (link-client.ts), the rest by Node's http(s).request; both send the path exactly as
// the hop decided on it (http-proxy, used before, rewrote `https:/` inside a path and cost a process
// more per request: docs/benchmarks.md).
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import net, { isIPv6 } from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { Duplex, Readable, Transform } from 'node:stream';
import { endToEndHeaders } from '../logic/headers';
import { describeFailure, type Failure } from '../logic/failure';
import { TunnelAgent } from './tunnel-agent';
import { HTTPParser, LinkPool, SessionCache, type LinkRequest } from './link-client';
import { linkSocketAddress } from './link-socket';
import { withLiveFreeSockets } from './live-free-sockets';
import { dialHop } from './hop-entrance';
import type { EgressSpec, NextHop } from '../spec';
import { GuardedHttpAgent, GuardedHttpsAgent, guardDial } from './egress-dial';
import { namedExactly, resolveEntry } from '../logic/egress-allow';
import { viaUpstreamProxy } from '../logic/upstream-proxy';
import type { UpstreamProxy } from './upstream-proxy';
import { blameBeyond, CLAIMED_HEADER, hopAnswerFailure, madeByHop, VIA_HEADER } from '../logic/hop-answer';
import { acceptsConnections, probeBeyond } from './health-probe';
import { blameDeadNext, cutByNext } from '../logic/dead-next';
import { upgradeOf, type UpgradeMark } from './ws-upgrade';
import { WebSocketRelay, type RelayFacts } from './ws-relay';
import { CLOSE_BAD_GATEWAY, closeFrame } from '../logic/ws-frame-writer';
import {
  handshakeHeaders,
  recordedSwitchHeaders,
  switchingHead,
  WEBSOCKET_MARK,
  websocketUnsupported,
} from '../logic/websocket';

export interface Destination {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

export type Route =
  // tlsToDestination: the next hop dials destinations itself, so the TLS inside its tunnel ends at the destination.
  // nextCaFile: the CA an intercepting next hop signs with (mitmproxy's), trusted too; read on first use. entrance: the
  // next hop is an isolated third-party hop whose wrapper takes a connection only after this line (hop-entrance.ts).
  | {
      kind: 'next';
      next: NextHop;
      proxyAuthorization: string;
      trustedCa: string[];
      nextCaFile?: string;
      plain?: boolean;
      tlsToDestination?: boolean;
      entrance?: Buffer;
      beyond?: NextHop;
    }
  // A reverse proxy for one API (Headroom, claude-code-proxy): plain origin-form, as its own clients send.
  // beyond (both kinds): the next hop is a third-party hop and this is the Moat process after it, which marks its
  // answers; an error answer without the mark is the hop's own (hops/logic/hop-answer.ts).
  | { kind: 'base_url'; next: NextHop; trustedCa: string[]; entrance?: Buffer; beyond?: NextHop }
  // upstream: egress.upstream_proxy, through which destinations outside its bypass are reached (upstream-proxy.ts).
  | { kind: 'internet'; egress: EgressSpec; trustedCa: string[]; upstream?: UpstreamProxy };

export interface ForwardObserver {
  /**
   * claimed: the Moat process after the third-party hop this sends to claimed this request's entry, or another one
   * alike, from the link in front of the hop (its marks: hops/logic/inflight.ts).
   */
  onResponseHeaders?(status: number, headers: http.IncomingHttpHeaders, claimed?: boolean): void;
  onResponseData?(chunk: Buffer): void;
  /**
   * A WebSocket after its 101: the relay, for the boundary to watch its bytes (and close it, moat-policy); returns
   * what watches each direction.
   */
  onUpgraded?(relay: WebSocketRelay): UpgradeTaps | undefined;
  onDone(outcome: { status: number; failure?: Failure; aborted?: boolean; websocket?: RelayFacts }): void;
}

/** What the boundary watches a WebSocket with once it is upgraded: each direction's bytes, a gate for the client's. */
export interface UpgradeTaps {
  onUp?(chunk: Buffer): void;
  onDown?(chunk: Buffer): void;
  gate?: Transform;
}

/** What one request is sent with: Node's request options (TLS options included for https). */
interface Outgoing {
  secure: boolean;
  options: https.RequestOptions;
  /** Sent over the request's own. */
  headers: http.OutgoingHttpHeaders;
  /** A request the link client may carry (to the next Moat process over link TLS, or HTTPS to a destination). */
  pool?: () => LinkPool;
}

interface Exchange {
  observer: ForwardObserver;
  proxyReq?: http.ClientRequest | LinkRequest;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
  done: boolean;
  /** Plain HTTP sent to egress.upstream_proxy: a 407 is the proxy's, not the destination's. */
  viaUpstreamHttp?: boolean;
}

const LOOPBACK = '127.0.0.1';
/** How much of a hop's own error answer is read (the JSON quotes its start), and for how long at most. */
const HOP_ANSWER_BYTES = 4096;
const HOP_ANSWER_WAIT_MS = 1000;
/** The name a Moat process's link-TLS leaf carries and its previous process asks for (".invalid" never resolves). */
export const LINK_SERVERNAME = 'moat-link.invalid';
export const PLAIN_MARK = 'x-moat-scheme';
const exchanges = new WeakMap<http.IncomingMessage, Exchange>();
/** The response headers the Moat process after a third-party hop marks its answers with (hops/logic/hop-answer.ts). */
const HOP_MARKS = [VIA_HEADER, WEBSOCKET_MARK, CLAIMED_HEADER];

export class Forwarder {
  private httpsAgentMade?: https.Agent;
  private linksMade?: LinkPool;
  private readonly egressPools = new Map<string, LinkPool>();
  /** Destinations' TLS sessions, kept past their pools (an empty pool is dropped). */
  private readonly egressSessions = new SessionCache();
  /** The trust of HTTPS to the next process (the agent's and the link client's). */
  private contextMade?: tls.SecureContext;
  private readonly httpAgent: http.Agent;
  /**
   * Egress, to a host egress.allow admits only by a glob: every socket checks the address it connects to
   * (hops/runtime/egress-dial.ts). Pools of their own, so a socket opened for a host the config names is never reused
   * for one it does not.
   */
  private guardedMade?: { http: http.Agent; https: https.Agent };
  /**
   * Requests forwarded and not yet answered in full: what a hop found hung (hops/runtime/hop-watchdog.ts) fails at
   * once.
   */
  private readonly live = new Map<http.IncomingMessage, http.ServerResponse>();
  /** Set while the hop this forwarder sends to is held hung: new requests get it at once, without waiting. */
  private hung?: Failure;
  /** WebSockets open through the next process: a hop found hung ends them too (setHung). */
  private readonly relays = new Set<WebSocketRelay>();

  constructor(private readonly route: Route) {
    const pool: http.AgentOptions = { keepAlive: true, maxSockets: Infinity, timeout: 30_000, scheduling: 'lifo' };
    // Plain HTTP to a process of the chain carries a credential (or an entrance line): only to a listener of ours.
    this.httpAgent = withLiveFreeSockets(
      route.kind === 'internet' ? new http.Agent(pool) : new EntranceHttpAgent(route.entrance, pool),
    );
  }

  /**
   * Builds the HTTPS pool ahead of the first request, once the process listens: its first TLS context is 40-50 ms of a
   * process's start, which `up` would otherwise wait for.
   */
  warm(): void {
    if (this.route.kind === 'next' && this.route.nextCaFile) return; // that CA is written by the hop when it starts
    try {
      this.httpsAgentMade ??= this.makeHttpsAgent();
      if (this.linkTls() && HTTPParser) void this.links;
    } catch {
      // the first request makes it again and reports why it cannot
    }
  }

  private guarded(egress: EgressSpec): { http: http.Agent; https: https.Agent } {
    if (this.guardedMade) return this.guardedMade;
    const pool = { keepAlive: true, maxSockets: Infinity, timeout: 30_000, scheduling: 'lifo' as const };
    // The same trust as every other HTTPS of this process, built once (a context of the system roots is ~25 ms); the
    // first request to a host a glob admits makes these agents even when the link client carries it.
    const secureContext = this.nextContext();
    const allowPrivate = egress.allowPrivateAddresses === true;
    return (this.guardedMade = {
      http: withLiveFreeSockets(new GuardedHttpAgent(allowPrivate, pool)),
      https: withLiveFreeSockets(new GuardedHttpsAgent(allowPrivate, { ...pool, secureContext } as https.AgentOptions)),
    });
  }

  private get httpsAgent(): https.Agent {
    return (this.httpsAgentMade ??= this.makeHttpsAgent());
  }

  /**
   * The next Moat process over link TLS, by the link client: its own pool, with the agent's trust; over the next
   * process's abstract Unix socket when it has one (hops/runtime/link-socket.ts).
   */
  private get links(): LinkPool {
    const { port, socket } = (this.route as { next: NextHop }).next;
    return (this.linksMade ??= new LinkPool({
      host: LOOPBACK,
      port,
      ...(socket ? { path: linkSocketAddress(socket) } : {}),
      name: LINK_SERVERNAME,
      secureContext: this.nextContext(),
    }));
  }

  /**
   * HTTPS to a destination by the link client: a pool per address, port and name, dropped once it holds no connection
   * (every name a glob admits would otherwise leave one for the life of the process). `guardedBy`: egress.allow admits
   * the host by a glob only, so every connection checks the address it connects to (egress-dial.ts), and an address
   * literal is checked here.
   */
  private egressPool(to: { host: string; port: number }, name: string, guardedBy?: EgressSpec): LinkPool {
    const key = `${guardedBy ? 'guarded' : 'named'} ${to.host} ${to.port} ${name}`;
    const made = this.egressPools.get(key);
    if (made) return made;
    let lookup: net.LookupFunction | undefined;
    if (guardedBy) {
      const checked = guardDial({ host: to.host }, guardedBy.allowPrivateAddresses === true);
      if (checked instanceof Error) throw checked;
      lookup = checked.lookup as net.LookupFunction;
    }
    const pool: LinkPool = new LinkPool({
      host: to.host,
      port: to.port,
      name,
      secureContext: this.nextContext(),
      lookup,
      sessions: this.egressSessions,
      onEmpty: () => {
        if (this.egressPools.get(key) === pool) this.egressPools.delete(key);
      },
    });
    this.egressPools.set(key, pool);
    return pool;
  }

  private nextContext(): tls.SecureContext {
    if (this.contextMade) return this.contextMade;
    const route = this.route;
    const ca =
      route.kind === 'next' && route.nextCaFile
        ? [...route.trustedCa, readNextCa(route.nextCaFile, route.next)]
        : route.trustedCa;
    // One TLS context built once: passing `ca` instead costs a context per connection (42 ms for the
    // system roots) and puts the whole bundle into the agent's pool key on every request.
    return (this.contextMade = tls.createSecureContext({ ca }));
  }

  private makeHttpsAgent(): https.Agent {
    const route = this.route;
    const secureContext = this.nextContext();
    const agent =
      route.kind === 'next' && !this.linkTls()
        ? new TunnelAgent({
            proxyHost: '127.0.0.1',
            proxyPort: route.next.port,
            proxyAuthorization: route.proxyAuthorization,
            secureContext,
            entrance: route.entrance,
          })
        : new NoDelayHttpsAgent({
            keepAlive: true,
            maxSockets: Infinity,
            timeout: 30_000,
            scheduling: 'lifo',
            secureContext,
          } as https.AgentOptions);
    return withLiveFreeSockets(agent);
  }

  /**
   * HTTPS to the next Moat process goes over link TLS: one pool for every destination host, no CONNECT, no leaf per
   * host.
   */
  private linkTls(): boolean {
    return (
      this.route.kind === 'next' && this.route.next.moat === true && !this.route.plain && !this.route.tlsToDestination
    );
  }

  /** req.headers must already be the headers to send; `body`, when given, is sent instead of reading req. */
  forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    dest: Destination,
    observer: ForwardObserver,
    body?: Readable,
  ): void {
    const ex: Exchange = { observer, timedOut: false, done: false };
    exchanges.set(req, ex);
    const upgrade = upgradeOf(req);
    if (upgrade && !this.hung) return this.upgrade(req, res, dest, ex, upgrade);
    if (this.hung) {
      req.resume();
      return this.failWith(req, res, this.hung);
    }
    this.track(req, res, ex);
    let proxyReq: http.ClientRequest | LinkRequest;
    try {
      proxyReq = this.send(req, dest, (headers) => framed(req, headers), true);
    } catch (err) {
      return this.fail(err as Error, req, res, dest);
    }
    ex.proxyReq = proxyReq;
    proxyReq.on('response', (proxyRes: http.IncomingMessage) => this.respond(proxyRes, req, res));
    proxyReq.on('error', (err: Error) => this.fail(err, req, res, dest));
    const source = body ?? req;
    source.on('error', (err) => {
      proxyReq.destroy();
      this.fail(err, req, res, dest);
    });
    source.pipe(proxyReq);
  }

  /**
   * A WebSocket handshake: sent on like any request but with its upgrade; a 101 joins the client's socket to the one
   * the answer came on (hops/runtime/ws-relay.ts), anything else is answered as a response. The exchange is done when
   * both sides of the connection are gone, with what crossed it.
   */
  private upgrade(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    dest: Destination,
    ex: Exchange,
    mark: UpgradeMark,
  ): void {
    let upgraded = false;
    this.track(req, res, ex, () => upgraded);
    // The mark stays inside the chain: not to the destination, nor to a hop that dials it itself.
    const outside =
      this.route.kind === 'internet' || (this.route.kind === 'next' && this.route.tlsToDestination === true);
    let proxyReq: http.ClientRequest;
    try {
      proxyReq = this.send(req, dest, (headers) => handshakeHeaders(headers, outside));
    } catch (err) {
      return this.fail(err as Error, req, res, dest);
    }
    ex.proxyReq = proxyReq;
    proxyReq.on('response', (proxyRes) => {
      // A third-party hop's own answer (no mark of the Moat process after it): it does not carry WebSockets.
      // Refused past a third-party hop, the answer carries the mark of the Moat process after it, which saw the
      // handshake as one; without it, the hop answered itself or sent the handshake on without its upgrade.
      const hop = this.thirdPartyHop();
      const h = proxyRes.headers;
      if (hop && h['x-moat-error'] === undefined && h[WEBSOCKET_MARK] === undefined) {
        const own = h[VIA_HEADER] === undefined;
        const status = proxyRes.statusCode ?? 502;
        // The hop's own 5xx is a failure like any request's: the process after it is probed and the one that failed
        // named (hops/logic/hop-answer.ts).
        if (own && status >= 500) return this.respond(proxyRes, req, res);
        proxyRes.resume();
        return this.failWith(req, res, websocketUnsupported(hop, own ? status : undefined));
      }
      this.respond(proxyRes, req, res);
    });
    proxyReq.on('error', (err) => this.fail(err, req, res, dest));
    proxyReq.on('upgrade', (proxyRes: http.IncomingMessage, proxySocket: net.Socket, proxyHead: Buffer) => {
      if (ex.done || mark.socket.destroyed) {
        proxySocket.destroy();
        return;
      }
      upgraded = true;
      if (ex.timer) clearTimeout(ex.timer);
      // The handshake is over: the connection is the relay's, for as long as it lasts.
      this.live.delete(req);
      proxySocket.setNoDelay?.(true);
      ex.observer.onResponseHeaders?.(101, recordedSwitchHeaders(proxyRes.headers));
      mark.socket.write(switchingHead(proxyRes.statusMessage, proxyRes.rawHeaders));
      let taps: UpgradeTaps = {};
      const relay = new WebSocketRelay(mark.socket, proxySocket, {
        onUp: (chunk) => taps.onUp?.(chunk),
        onDown: (chunk) => taps.onDown?.(chunk),
        onClosed: (facts) => {
          this.relays.delete(relay);
          this.finish(req, { status: 101, websocket: facts });
        },
      });
      taps = ex.observer.onUpgraded?.(relay) ?? {};
      relay.start(mark.head, proxyHead, taps.gate);
      this.relays.add(relay);
    });
    proxyReq.end();
  }

  /**
   * What forward() and upgrade() do first: the request is in flight (the watchdog may fail it), its client going away
   * drops what was sent on for it (unless `upgraded`: the relay has the sockets then), and egress gives the destination
   * egress.timeout_ms to answer.
   */
  private track(req: http.IncomingMessage, res: http.ServerResponse, ex: Exchange, upgraded = () => false): void {
    this.live.set(req, res);
    res.once('close', () => {
      if (upgraded() || res.writableFinished) return;
      this.finish(req, { status: res.statusCode, aborted: true });
      // The client went away: what was sent on for it is dropped (its error then finds the exchange done).
      ex.proxyReq?.destroy();
    });
    if (this.route.kind === 'internet') {
      ex.timer = setTimeout(() => {
        ex.timedOut = true;
        ex.proxyReq?.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
      }, this.route.egress.timeoutMs);
    }
  }

  /**
   * The request sent on: where outgoing() says, with the request's headers and its own as `headers` makes them. With
   * `lean`, HTTPS to the next Moat process or (at egress) to a destination goes by the link client
   * (hops/runtime/link-client.ts), not Node's.
   */
  private send(
    req: http.IncomingMessage,
    dest: Destination,
    headers: (merged: http.OutgoingHttpHeaders) => http.OutgoingHttpHeaders,
  ): http.ClientRequest;
  private send(
    req: http.IncomingMessage,
    dest: Destination,
    headers: (merged: http.OutgoingHttpHeaders) => http.OutgoingHttpHeaders,
    lean: true,
  ): http.ClientRequest | LinkRequest;
  private send(
    req: http.IncomingMessage,
    dest: Destination,
    headers: (merged: http.OutgoingHttpHeaders) => http.OutgoingHttpHeaders,
    lean = false,
  ): http.ClientRequest | LinkRequest {
    const out = this.outgoing(req, dest);
    out.options.method = req.method;
    out.options.path ??= req.url;
    out.options.headers = headers({ ...req.headers, ...out.headers });
    if (lean && out.pool && HTTPParser)
      return out.pool().request(req.method ?? 'GET', out.options.path ?? '/', out.options.headers);
    return out.secure ? https.request(out.options) : http.request(out.options);
  }

  /** Where and how `req` goes; its method, path (req.url unless set) and headers are added by forward(). */
  private outgoing(req: http.IncomingMessage, dest: Destination): Outgoing {
    // An IPv6 address goes in brackets, in the Host header as in an absolute URL.
    const host = isIPv6(dest.host) ? `[${dest.host}]` : dest.host;
    const hostHeader = dest.port === (dest.scheme === 'https' ? 443 : 80) ? host : `${host}:${dest.port}`;
    if (this.route.kind === 'base_url') {
      const port = this.route.next.port;
      return plain(port, this.httpAgent, { host: `${LOOPBACK}:${port}` });
    }
    if (this.route.kind === 'next') {
      const port = this.route.next.port;
      if (dest.scheme === 'https' && this.route.plain) {
        // tls: plain: a proxy that cannot intercept TLS sees the request; the port and the header tell the
        // link after it that this was HTTPS (LinkServer.onPlainRequest).
        req.url = `http://${dest.host}:${dest.port}${req.url}`;
        return plain(port, this.httpAgent, {
          'proxy-authorization': this.route.proxyAuthorization,
          [PLAIN_MARK]: 'https',
        });
      }
      if (dest.scheme === 'https' && this.linkTls()) {
        req.url = `https://${hostHeader}${req.url}`;
        const out = secure(LOOPBACK, port, LINK_SERVERNAME, this.httpsAgent, {
          'proxy-authorization': this.route.proxyAuthorization,
        });
        return { ...out, pool: () => this.links };
      }
      // The tunnel agent asks the next hop for a CONNECT to the destination; TLS inside it ends there.
      if (dest.scheme === 'https') return secure(dest.host, dest.port, dest.host, this.httpsAgent, {});
      // Plain http goes to the next proxy in absolute form.
      req.url = `http://${hostHeader}${req.url}`;
      const auth = this.route.proxyAuthorization;
      return plain(port, this.httpAgent, auth ? { 'proxy-authorization': auth } : {});
    }
    const egress = this.route.egress;
    const upstream = this.route.upstream;
    if (upstream && viaUpstreamProxy(upstream.spec, egress.resolve, dest.host, dest.port)) {
      // The corporate proxy resolves names, so egress cannot check the address a name leads to; an address written
      // as such is still checked here (egress-dial.ts) unless egress.allow names it exactly.
      if (!namedExactly(egress, dest.host, dest.port)) {
        const literal = guardDial({ host: dest.host }, egress.allowPrivateAddresses === true);
        if (literal instanceof Error) throw literal;
      }
      if (dest.scheme === 'https') return secure(dest.host, dest.port, dest.host, upstream.https, { host: hostHeader });
      const ex = exchanges.get(req);
      if (ex) ex.viaUpstreamHttp = true;
      req.url = `http://${hostHeader}${req.url}`;
      const out = plain(upstream.spec.port, upstream.http, { host: hostHeader, ...upstream.requestHeaders() });
      out.options.host = upstream.spec.host;
      return out;
    }
    const mapped = resolveAddress(egress.resolve, dest);
    const named = namedExactly(egress, dest.host, dest.port);
    const agents = named ? { http: this.httpAgent, https: this.httpsAgent } : this.guarded(egress);
    if (dest.scheme === 'https') {
      const out = secure(mapped.host, mapped.port, dest.host, agents.https, { host: hostHeader });
      return { ...out, pool: () => this.egressPool(mapped, dest.host, named ? undefined : egress) };
    }
    const out = plain(mapped.port, agents.http, { host: hostHeader });
    out.options.host = mapped.host;
    return out;
  }

  private respond(proxyRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse): void {
    const ex = exchanges.get(req);
    if (ex?.timer) clearTimeout(ex.timer);
    const status = proxyRes.statusCode ?? 502;
    if (ex?.viaUpstreamHttp && status === 407 && this.route.kind === 'internet' && this.route.upstream) {
      // The corporate proxy refused egress's credentials: the agent gets moat's error naming it, not the proxy's page.
      proxyRes.resume();
      return this.fail(this.route.upstream.authFailure(), req, res, { scheme: 'http', host: hostOf(req), port: 0 });
    }
    const beyond = this.beyond();
    if (beyond && madeByHop(status, proxyRes.headers, beyond)) return this.answerForHop(proxyRes, req, res, beyond);
    // The marks of the Moat process after a third-party hop go no further than the link in front of the hop, and are
    // not recorded: in events and tap they would look like headers the hop added.
    const headers = endToEndHeaders(proxyRes.headers);
    for (const mark of HOP_MARKS) delete headers[mark];
    let recorded = proxyRes.headers;
    if (HOP_MARKS.some((mark) => recorded[mark] !== undefined)) {
      recorded = { ...recorded };
      for (const mark of HOP_MARKS) delete recorded[mark];
    }
    const h = proxyRes.headers;
    const claimed = beyond !== undefined && h[CLAIMED_HEADER] === '1' && h[VIA_HEADER] === String(beyond.hop);
    ex?.observer.onResponseHeaders?.(status, recorded, claimed);
    res.writeHead(status, proxyRes.statusMessage, headers);
    // Headers go out with the first body chunk when it is already here (one write, one TLS
    // record, one wake-up downstream); otherwise, as for an SSE stream, they go out now.
    // (res.headersSent is already true after writeHead, so track the first chunk ourselves.)
    let bodyStarted = false;
    setImmediate(() => {
      if (!bodyStarted && !res.destroyed) res.flushHeaders();
    });
    // A body of declared length is whole at the client as soon as its last byte arrives, a turn before proxyRes's
    // 'end': the exchange is done (its event spooled) just before pipe() writes that byte (this listener runs first).
    let left = declaredLength(proxyRes.headers['content-length']);
    proxyRes.on('data', (chunk: Buffer) => {
      bodyStarted = true;
      ex?.observer.onResponseData?.(chunk);
      if (left !== undefined && (left -= chunk.length) <= 0) this.finish(req, { status });
    });
    proxyRes.on('error', (err) => this.fail(err, req, res, { scheme: 'https', host: '?', port: 0 }));
    // Otherwise done once the response has ended here, before pipe() ends `res` (this listener runs first): the
    // response event is spooled before the last chunk's end is written. res's 'finish' comes a turn or more later
    // (after the write callback), and a process killed in between lost the event of a response its client had got
    // as a 200 (seen in the resilience suite, docs/resilience.md).
    proxyRes.once('end', () => this.finish(req, { status }));
    res.once('finish', () => this.finish(req, { status }));
    res.once('close', () => proxyRes.destroy());
    proxyRes.pipe(res);
  }

  private fail(err: Error, req: http.IncomingMessage, res: http.ServerResponse, dest: Destination): void {
    const ex = exchanges.get(req);
    if (!ex || ex.done) return;
    const next = this.route.kind === 'internet' ? undefined : this.route.next;
    const failure = describeFailure(
      err as NodeJS.ErrnoException,
      ex.timedOut,
      next,
      dest.host,
      this.route.kind === 'next' && this.route.tlsToDestination === true,
    );
    if (!next || res.headersSent || (failure.error !== 'hop_failed' && failure.error !== 'hop_timeout'))
      return this.failWith(req, res, failure);
    void this.blame(failure, (err as NodeJS.ErrnoException).code, next)
      .catch(() => failure)
      .then((blamed) => this.failWith(req, res, blamed));
  }

  /**
   * Who a failure of the next process is told about: the next process when it no longer accepts connections (it died
   * with this request on a kept-alive connection); else, behind a third-party hop that may only have passed on a
   * failure of the Moat process after it, that one when it does not answer a direct probe; else `failure` as it is.
   */
  private async blame(failure: Failure, code: string | undefined, next: NextHop): Promise<Failure> {
    if (cutByNext(failure, code, next)) {
      const dead = blameDeadNext(failure, code, next, await acceptsConnections(next.port));
      if (dead) return dead;
    }
    const beyond = this.beyond();
    if (!beyond) return failure;
    return blameBeyond(failure, beyond, await probeBeyond(beyond.port)) ?? failure;
  }

  /** The third-party hop this forwarder sends to; undefined when the next process is a Moat process or the internet. */
  private thirdPartyHop(): NextHop | undefined {
    return this.route.kind !== 'internet' && this.route.beyond ? this.route.next : undefined;
  }

  /** The Moat process after the third-party hop this forwarder sends to; undefined for any other next process. */
  private beyond(): NextHop | undefined {
    return this.route.kind === 'internet' ? undefined : this.route.beyond;
  }

  /**
   * The third-party hop answered an error of its own (hops/logic/hop-answer.ts): the start of its text is read, the
   * Moat process after it probed, and the client gets moat's JSON naming the one that failed, with the hop's status.
   */
  private answerForHop(
    proxyRes: http.IncomingMessage,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    beyond: NextHop,
  ): void {
    const hop = (this.route as { next: NextHop }).next;
    const status = proxyRes.statusCode ?? 502;
    const chunks: Buffer[] = [];
    let size = 0;
    let read = false;
    const answer = () => {
      if (read) return;
      read = true;
      clearTimeout(timer);
      proxyRes.destroy();
      const body = Buffer.concat(chunks).subarray(0, HOP_ANSWER_BYTES).toString('utf8');
      void probeBeyond(beyond.port).then((result) =>
        this.failWith(req, res, hopAnswerFailure(hop, beyond, status, body, result)),
      );
    };
    const timer = setTimeout(answer, HOP_ANSWER_WAIT_MS);
    proxyRes.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= HOP_ANSWER_BYTES) answer();
    });
    proxyRes.once('end', answer);
    proxyRes.once('error', answer);
  }

  /**
   * Held hung (hops/runtime/hop-watchdog.ts): every request in flight here gets `failure` now (504 before its response
   * started, a broken connection after), and so does each new one, at once; undefined forwards as usual again.
   * Returns how many requests in flight were failed.
   */
  setHung(failure: Failure | undefined): number {
    this.hung = failure;
    if (!failure) return 0;
    let failed = 0;
    for (const req of [...this.live.keys()]) if (this.abort(req, failure)) failed++;
    // An open WebSocket through the hung hop would stall for ever: the client gets a close frame naming the hop
    // (1014, bad gateway) and the socket to the hop is ended. Should the hop have hung in the middle of a frame, the
    // client reads a broken one instead: the connection ends either way.
    for (const relay of [...this.relays]) {
      this.relays.delete(relay); // closing: counted once, whatever comes next
      relay.close(closeFrame(CLOSE_BAD_GATEWAY, `moat: ${failure.error}: ${failure.message}`, false), undefined);
      failed++;
    }
    return failed;
  }

  /** Requests forwarded and not yet answered in full. */
  get inFlight(): number {
    return this.live.size;
  }

  /** WebSockets open through the next process (the watchdog probes a third-party hop while there are). */
  get openWebSockets(): number {
    return this.relays.size;
  }

  /** Ends one request in flight with `failure` and drops what was sent on for it; false when none is in flight here. */
  abort(req: http.IncomingMessage, failure: Failure): boolean {
    const ex = exchanges.get(req);
    const res = this.live.get(req);
    if (!ex || ex.done || !res) return false;
    this.failWith(req, res, failure);
    ex.proxyReq?.destroy();
    return true;
  }

  private failWith(req: http.IncomingMessage, res: http.ServerResponse, failure: Failure): void {
    const ex = exchanges.get(req);
    if (!ex || ex.done) return;
    if (ex.timer) clearTimeout(ex.timer);
    if (res.headersSent) {
      // Mid-stream: the status is gone, so the client must see a broken connection, not a clean end.
      res.destroy();
      this.finish(req, { status: res.statusCode, failure });
      return;
    }
    const text = jsonText({ ...failure, status: undefined });
    ex.observer.onResponseHeaders?.(failure.status, {
      'content-type': 'application/json',
      'x-moat-error': failure.error,
    });
    ex.observer.onResponseData?.(Buffer.from(text));
    // The event first, as for a forwarded answer: a process killed after the answer left never sent it unrecorded.
    this.finish(req, { status: failure.status, failure });
    sendJsonText(res, failure.status, text, { 'x-moat-error': failure.error });
  }

  private finish(
    req: http.IncomingMessage,
    outcome: { status: number; failure?: Failure; aborted?: boolean; websocket?: RelayFacts },
  ): void {
    const ex = exchanges.get(req);
    if (!ex || ex.done) return;
    ex.done = true;
    this.live.delete(req);
    if (ex.timer) clearTimeout(ex.timer);
    ex.observer.onDone(outcome);
  }

  close(): void {
    this.httpsAgentMade?.destroy();
    this.linksMade?.destroy();
    for (const pool of this.egressPools.values()) pool.destroy();
    this.egressPools.clear();
    this.httpAgent.destroy();
    this.guardedMade?.http.destroy();
    this.guardedMade?.https.destroy();
    if (this.route.kind === 'internet') this.route.upstream?.destroy();
  }
}

/** Plain HTTP to `port` on 127.0.0.1 (egress changes the host), with `headers` over the request's own. */
function plain(port: number, agent: http.Agent, headers: http.OutgoingHttpHeaders): Outgoing {
  return { secure: false, options: { host: LOOPBACK, port, agent }, headers };
}

/** HTTPS to host:port, the certificate checked for `servername`, with `headers` over the request's own. */
function secure(
  host: string,
  port: number,
  servername: string,
  agent: http.Agent,
  headers: http.OutgoingHttpHeaders,
): Outgoing {
  return { secure: true, options: { host, port, servername, agent }, headers };
}

/**
 * The headers with the body's framing: a body sent chunked arrives here without `transfer-encoding` (hop-by-hop), and
 * Node frames GET, DELETE and OPTIONS bodies only when told, so a chunked body keeps its framing whatever the method.
 */
function framed(req: http.IncomingMessage, headers: http.OutgoingHttpHeaders): http.OutgoingHttpHeaders {
  if (headers['content-length'] !== undefined) return headers;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i].length === 17 && raw[i].toLowerCase() === 'transfer-encoding') {
      headers['transfer-encoding'] = 'chunked';
      break;
    }
  return headers;
}

/**
 * https.Agent leaves Nagle's algorithm on for the TLS sockets it opens (its noDelay option reaches plain
 * TCP sockets only, Node 20; strace shows no TCP_NODELAY on them). A request written in two parts (headers,
 * then a body) then waits for the next hop's delayed ACK.
 */
export class NoDelayHttpsAgent extends https.Agent {
  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = super.createConnection(options, callback);
    (socket as net.Socket | undefined)?.setNoDelay?.(true);
    return socket;
  }
}

/**
 * Plain HTTP to a process of the chain: every connection it opens goes to a listener of this user only, and, to an
 * isolated hop, says the entrance line first (hops/runtime/hop-entrance.ts).
 */
export class EntranceHttpAgent extends http.Agent {
  constructor(
    private readonly entrance: Buffer | undefined,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  // The socket is returned, so the agent uses it as it would its own (errors reach the request through it).
  override createConnection(options: http.ClientRequestArgs): Duplex {
    return dialHop(Number(options.port), this.entrance);
  }
}

/** The CA file of an intercepting next hop; an unreadable one fails the request closed, naming the hop. */
function readNextCa(file: string, next: NextHop): string {
  try {
    const pem = readFileSync(file, 'utf8');
    // An empty or half-written file would make a context that trusts nothing, kept for good: refuse it, read again next
    // time.
    new X509Certificate(pem);
    return pem;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw Object.assign(
      new Error(`cannot read the CA hop ${next.hop} (${next.name}) signs with, ${file}: ${e.code ?? e.message}`),
      { code: 'MOAT_NEXT_CA_UNREADABLE' },
    );
  }
}

/** The destination host of an absolute-form request, for messages. */
function hostOf(req: http.IncomingMessage): string {
  try {
    return new URL(req.url ?? '').hostname;
  } catch {
    return '?';
  }
}

/** egress.resolve: "host:port" -> "address:port" or "address" (keeping the port). */
export function resolveAddress(resolve: Record<string, string>, dest: Destination): { host: string; port: number } {
  const mapped = resolveEntry(resolve, dest.host, dest.port);
  if (!mapped) return { host: dest.host, port: dest.port };
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(mapped);
  return m ? { host: m[1], port: m[2] ? Number(m[2]) : dest.port } : { host: mapped, port: dest.port };
}

/** Answers with a JSON body; returns the text sent. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: Record<string, unknown> | unknown[],
  headers: Record<string, string> = {},
): string {
  return sendJsonText(res, status, jsonText(body), headers);
}

/** A JSON body as Moat sends it: one line. */
function jsonText(body: Record<string, unknown> | unknown[]): string {
  return JSON.stringify(body) + '\n';
}

/** Answers with `text`, JSON made by jsonText; returns it. */
function sendJsonText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string>): string {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
  return text;
}

/** The byte count a `content-length` header declares; undefined when there is none (chunked, or to the close). */
function declaredLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}
