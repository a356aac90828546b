// The listener every Moat process shares (ingress, built-in hops, links, egress): takes
// CONNECT (terminating TLS with a Moat leaf for the requested host) and absolute-form
// HTTP, requires the chain token, runs the hop logic, and hands the request to the forwarder.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { timingSafeEqual } from 'node:crypto';
import { LeafCache } from '../tls/leaf-cache';
import { Forwarder, LINK_SERVERNAME, PLAIN_MARK, sendJson, type Destination } from './forwarder';
import { endToEndHeaders } from '../logic/headers';
import { answerClientError } from './client-error';
import {
  admit,
  claimedTrace,
  goesAround,
  traceHeadersToSend,
  traceStep,
  type Admission,
  type KnownTrace,
} from '../logic/admission';
import { BodyTap } from '../events/body-tap';
import { readPrefix, replay } from './body-prefix';
import type { Readable } from 'node:stream';
import type { BoundaryRecorder } from '../events/boundary-recorder';
import type { HopLogic, RequestView } from '../logic/view';
import { recordableTarget } from '../events/recordable';
import type { LinkSpec, NextHop } from '../spec';
import type { InflightRegistry } from '../logic/inflight';
import { CLAIM_PATH, type TraceClaimer } from './trace-claim';
import { BASE_PREFIX, parseBasePath } from '../logic/scope';
import type { CredentialRequest, CredentialResult } from '../logic/credentials';
import { intercepts, PLAIN_HTTP_HEADER } from '../logic/intercept';
import { relayBlind } from './blind-tunnel';
import type { UpstreamProxy } from './upstream-proxy';
import { RefusalLog } from './refusal-log';
import { canonicalHost } from '../logic/canonical-host';
import { canonicalPath, type CanonicalPath } from '../logic/canonical-path';
import { carriesCredential, expectedBasic } from '../logic/credential-check';
import { HEALTH_PATH } from './health-probe';
import { CLAIMED_HEADER, VIA_HEADER } from '../logic/hop-answer';
import { ambiguityHint, CREDENTIAL_HINT } from '../logic/agent-hint';
import type { TunnelParking } from './tunnel-parking';
import { isLastMoat } from '../logic/onward';
import { BODY_TIMEOUT_DEFAULTS, type BodyTimeout } from '../logic/body-deadline';
import { bodyTimeoutFailure, closeConnection, watchBody } from './body-timeout';
import { checkSkip, SKIP_HEADER, SKIPPED_HEADER, SkipLedger } from '../logic/replay-skip';
import { acceptUpgrade, upgradeOf } from './ws-upgrade';
import { WsWatch, type WsEnding } from './ws-watch';
import type { RelayFacts } from './ws-relay';
import type { ProviderFacts } from '../providers/facts';
import { WEBSOCKET_MARK, websocketUnsupported, withoutExtensions } from '../logic/websocket';
import { bytesPassed } from './scavenge-hint';
import { listenOnLinkSocket } from './link-socket';

export interface LinkServerOptions {
  spec: LinkSpec;
  /** This listener's credential: the agent's token at ingress, else the one only the process before it holds. */
  token: string;
  /** In front of a third-party hop: the credential of the process after the hop, which alone may claim traces here. */
  claimToken?: string;
  /** The Proxy-Authorization the given next process takes (blind tunnels open their CONNECT with it). */
  authorizationTo: (next: NextHop) => string;
  /** The entrance line of an isolated third-party hop (blind tunnels say it first); undefined for others. */
  entranceTo: (next: NextHop) => Buffer | undefined;
  leaves: LeafCache;
  forwarder: Forwarder;
  logic: HopLogic;
  /** Present when this process records its boundary as events. */
  recorder?: BoundaryRecorder;
  /** In front of a third-party hop: the requests in the hop, for the process after it to claim. */
  inflight?: InflightRegistry;
  /** After a third-party hop: asks the link in front of it for the trace of a request that lost it. */
  claimer?: TraceClaimer;
  /**
   * In front of a base_url hop: sends requests outside its scope to the process after it; in front of a forward hop,
   * replayed requests that skip it (hops/logic/replay-skip.ts).
   */
  skipForwarder?: Forwarder;
  /** replay --skip-hop: the chain's skip key, where this process's hop may be skipped. */
  skipKey?: string;
  /** At egress with grants: puts the real credential into a request (hops/logic/credentials.ts). */
  credentials?: (req: CredentialRequest) => CredentialResult;
  log: (line: string) => void;
  /** At egress: egress.upstream_proxy (blind tunnels open through it; the forwarder has its own reference). */
  upstream?: UpstreamProxy;
  /** After a third-party hop: blind tunnels opened for the link in front of the hop, held for the hop's CONNECT. */
  parking?: TunnelParking;
  /**
   * In front of a third-party forward hop: the Proxy-Authorization of the Moat process after it, which opens blind
   * tunnels onwards before the agent is told 200 (hops/runtime/tunnel-parking.ts).
   */
  beyondAuthorization?: string;
  /** HEADERS_TIMEOUT_MS unless a test wants it short. */
  headersTimeoutMs?: number;
  /** How long a request body may take (hops/logic/body-deadline.ts); BODY_TIMEOUT_DEFAULTS unless set. */
  bodyTimeout?: BodyTimeout;
}

type TunnelSocket = net.Socket & { moatDestination?: Destination };

/** A WebSocket has no response body: what its close hands the hop logic instead. */
const NO_BODY = { bytes: () => Buffer.alloc(0), truncated: false };

// How long a client may take to send a request's headers (from its connection, or from the first byte of
// a request on a kept-alive one), and a tunnel its first byte. Agents and hops write headers at once;
// a slowloris client that trickles them holds a socket no longer than this.
export const HEADERS_TIMEOUT_MS = 15_000;
// How long a refused CONNECT's socket may stay half-open for its client to read the answer and close.
const REFUSED_LINGER_MS = 2000;
// How often Node looks for connections past HEADERS_TIMEOUT_MS (its default, 30 s, would add up to that).
const TIMEOUT_CHECK_MS = 1000;

export class LinkServer {
  /** The listener: hands each connection, by its first byte, to `outer` (plain HTTP) or to `linked` (link TLS). */
  private readonly front: net.Server;
  private readonly outer: http.Server;
  private readonly inner: http.Server;
  /** Requests from the previous Moat process over link TLS, absolute-form, the token on each. */
  private readonly linked: http.Server;
  private readonly expectedAuth: Buffer;
  private readonly expectedClaimAuth?: Buffer;
  private readonly headersTimeoutMs: number;
  private readonly refusals: RefusalLog;
  private readonly ambiguities: RefusalLog;
  private readonly bodyTimeout: BodyTimeout;
  private readonly skipRefusals: RefusalLog;
  private readonly skipped = new SkipLedger();

  constructor(private readonly o: LinkServerOptions) {
    this.expectedAuth = expectedBasic(o.token);
    if (o.claimToken) this.expectedClaimAuth = expectedBasic(o.claimToken);
    this.refusals = new RefusalLog(o.log, listenerName(o.spec));
    // The path is not in the line: it may be a secret (a webhook URL's path is one).
    this.ambiguities = new RefusalLog(
      o.log,
      listenerName(o.spec),
      undefined,
      (what) => `an ambiguous request path (${what}) (400 ambiguous_request)`,
    );
    this.skipRefusals = new RefusalLog(
      o.log,
      listenerName(o.spec),
      undefined,
      (why) => `an ask to skip hop ${o.spec.hop} (${why}); the request goes through it`,
    );
    this.headersTimeoutMs = o.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    this.bodyTimeout = o.bodyTimeout ?? BODY_TIMEOUT_DEFAULTS;
    const serverOptions: http.ServerOptions = {
      keepAliveTimeout: 65_000,
      requestTimeout: 0,
      headersTimeout: this.headersTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      noDelay: true,
    };
    this.front = net.createServer({ noDelay: true }, (socket) => this.onSocket(socket));
    this.outer = http.createServer(serverOptions, (req, res) => this.onPlainRequest(req, res));
    this.outer.on('connect', (req, socket, head) => this.onConnect(req, socket as net.Socket, head));
    this.outer.on('clientError', answerClientError);
    this.linked = http.createServer(serverOptions, (req, res) => this.onLinkedRequest(req, res));
    this.linked.on('connect', (_req, socket) =>
      (socket as net.Socket).end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    );
    this.linked.on('clientError', answerClientError);
    // Requests inside CONNECT tunnels arrive here; the tunnel already proved the token.
    this.inner = http.createServer(serverOptions, (req, res) => {
      const dest = (req.socket as TunnelSocket).moatDestination;
      if (!dest) return sendJson(res, 400, { error: 'bad_request', message: 'request outside a tunnel' });
      this.handle(req, res, dest);
    });
    this.inner.on('clientError', answerClientError);
    // WebSocket handshakes (and other upgrades) go the way of every request (hops/runtime/ws-upgrade.ts).
    const track = (socket: net.Socket) => {
      this.tunnels.add(socket);
      socket.once('close', () => this.tunnels.delete(socket));
    };
    for (const server of [this.outer, this.linked, this.inner])
      server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
        acceptUpgrade(server, req, socket, head, track),
      );
    // After a third-party hop: every answer carries this process's mark, so the link in front of the hop tells them
    // from the hop's own (hops/logic/hop-answer.ts). First, before any handler answers.
    const via = o.spec.afterHop ? String(o.spec.hop) : undefined;
    if (via)
      for (const server of [this.outer, this.linked, this.inner])
        server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
          res.setHeader(VIA_HEADER, via);
          // A handshake's answer says it arrived as one (hops/logic/websocket.ts).
          if (upgradeOf(req)) res.setHeader(WEBSOCKET_MARK, '1');
        });
    // Every request's body is bounded in time (hops/runtime/body-timeout.ts), from its arrival, whatever answers it.
    for (const server of [this.outer, this.linked, this.inner])
      server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) =>
        watchBody(req, this.bodyTimeout, performance.now(), () => this.bodyTimedOut(req, res)),
      );
    // The inner server never listens (tunnels are handed to it), and Node starts the check of
    // headersTimeout on 'listening': without this, a client in a tunnel could trickle headers for ever.
    // The same for the servers the front hands connections to.
    this.inner.emit('listening');
    this.outer.emit('listening');
    this.linked.emit('listening');
  }

  /** Connections accepted from the previous hop (a keep-alive chain opens few). */
  acceptedConnections = 0;

  get port(): number {
    return (this.front.address() as net.AddressInfo).port;
  }

  async listen(): Promise<number> {
    // The socket first: once the port accepts (what `up` and the probes wait for), the socket does too.
    if (this.o.spec.socket) await this.listenOnSocket(this.o.spec.socket);
    await new Promise<void>((resolve, reject) => {
      this.front.once('error', reject);
      this.front.listen(this.o.spec.port, this.o.spec.host, () => resolve());
    }).catch(async (err) => {
      await this.closeSocket();
      throw err;
    });
    return this.port;
  }

  /** The Moat process before this one, over an abstract Unix socket: link TLS only, the port's credential. */
  private sideSocket?: net.Server;

  private listenOnSocket(name: string): Promise<void> {
    const server = net.createServer((socket) => this.onSocket(socket, 'link TLS only'));
    this.sideSocket = server;
    return listenOnLinkSocket(server, name);
  }

  private closeSocket(): Promise<void> {
    const side = this.sideSocket;
    if (!side?.listening) return Promise.resolve();
    return new Promise<void>((resolve) => side.close(() => resolve()));
  }

  async close(): Promise<void> {
    this.o.forwarder.close();
    this.o.skipForwarder?.close();
    this.outer.closeAllConnections();
    this.linked.closeAllConnections();
    // CONNECT tunnels left the HTTP server's bookkeeping when they were upgraded; sockets not yet handed on, too.
    for (const socket of this.tunnels) socket.destroy();
    for (const socket of this.waiting) socket.destroy();
    // Stops the headers-timeout checks of the servers that never listened (their callbacks only say so).
    for (const server of [this.inner, this.outer, this.linked]) server.close(() => undefined);
    // Both in this turn: a listener left open while the other closes could take a connection nothing would end.
    await Promise.all([this.closeSocket(), new Promise<void>((resolve) => this.front.close(() => resolve()))]);
  }

  /** Connections accepted but not yet handed to a server (no byte yet). */
  private readonly waiting = new Set<net.Socket>();

  /**
   * A TLS handshake (first byte 0x16) is the previous Moat process speaking link TLS; anything else is a proxy
   * client (CONNECT, absolute-form http://, a base_url hop). No server watches a socket before its first byte,
   * so one that sends nothing is closed here after the headers timeout.
   */
  private onSocket(socket: net.Socket, only?: 'link TLS only'): void {
    this.acceptedConnections++;
    this.waiting.add(socket);
    const idle = () => socket.destroy();
    socket.setTimeout(this.headersTimeoutMs, idle);
    socket.once('end', idle);
    socket.on('error', idle);
    socket.once('close', () => this.waiting.delete(socket));
    socket.once('data', (first: Buffer) => {
      this.waiting.delete(socket);
      socket.setTimeout(0, idle);
      socket.removeListener('end', idle);
      socket.removeListener('error', idle);
      socket.pause();
      socket.unshift(first);
      if (first[0] === 0x16) return this.acceptLinkTls(socket);
      if (only) return void socket.destroy();
      this.outer.emit('connection', socket);
      socket.resume();
    });
  }

  private acceptLinkTls(socket: net.Socket): void {
    let secure: tls.TLSSocket;
    try {
      secure = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext: this.o.leaves.contextFor(LINK_SERVERNAME),
        ALPNProtocols: ['http/1.1'],
      });
    } catch (err) {
      this.o.log(`tls: cannot mint the link certificate: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    secure.on('error', () => secure.destroy());
    this.linked.emit('connection', secure);
    // The TLS socket reads what the paused socket holds (the ClientHello) once it, not the socket, flows.
    secure.resume();
  }

  /**
   * From the previous Moat process over link TLS: `https://host[:port]/path` (or http://), the token on each request.
   */
  private onLinkedRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.authorized(req)) {
      this.refusals.note('link TLS');
      return askForToken(req, res);
    }
    delete req.headers['proxy-authorization'];
    const dest = parseAbsoluteTarget(req.url ?? '');
    if (!dest) {
      req.resume();
      sendJson(res, 400, {
        error: 'bad_request',
        message: `moat ${this.o.spec.name}: link TLS carries absolute-form https:// or http:// requests`,
      });
      return;
    }
    req.url = dest.path;
    this.handle(req, res, dest.destination);
  }

  private authorized(req: http.IncomingMessage, expected: Buffer = this.expectedAuth): boolean {
    return carriesCredential(req.headers['proxy-authorization'], expected);
  }

  private readonly tunnels = new Set<net.Socket>();

  private onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.tunnels.add(socket);
    socket.once('close', () => this.tunnels.delete(socket));
    if (!this.authorized(req)) {
      this.refusals.note('CONNECT');
      // Closed for good soon after the answer: a refused client may not hold the socket half-open (destroyed at
      // once, bytes it sent meanwhile unread could turn the close into a reset that loses the answer).
      socket.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="moat"\r\n' +
          'Content-Length: 0\r\nConnection: close\r\n\r\n',
      );
      setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      return;
    }
    const dest = parseAuthority(req.url ?? '');
    if (!dest) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      return;
    }
    socket.setNoDelay(true);
    // Outside tls.intercept: no TLS termination here or anywhere after; the CONNECT goes on as it is.
    if (!intercepts(this.o.spec.intercept, dest.host) && req.headers[PLAIN_HTTP_HEADER] === undefined)
      return relayBlind(this.o, req, socket, head, dest);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    // No HTTP server watches a tunnel until its first byte: one left idle, or closed by the client before
    // sending anything, is closed here (the HTTP server's sockets allow half-open ones, so a client's close
    // alone used to leave this side in CLOSE_WAIT for good).
    const idle = () => socket.destroy();
    socket.setTimeout(this.headersTimeoutMs, idle);
    socket.once('end', idle);
    // A tunnel normally carries TLS (first byte 0x16, a handshake record); plain HTTP is served too.
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0, idle);
      socket.removeListener('end', idle);
      socket.pause();
      socket.unshift(first);
      if (first[0] === 0x16) this.terminateTls(socket, dest.host, dest.port);
      else this.serveTunnel(socket, { scheme: 'http', host: dest.host, port: dest.port });
    });
  }

  private terminateTls(socket: net.Socket, host: string, port: number): void {
    let secure: tls.TLSSocket;
    try {
      secure = new tls.TLSSocket(socket, {
        isServer: true,
        // The CONNECT host's leaf whatever name the ClientHello gives: the request goes to that host, and a leaf
        // minted for any SNI name asked would let an agent grow this process's cache at will.
        secureContext: this.o.leaves.contextFor(host),
        ALPNProtocols: ['http/1.1'],
      });
    } catch (err) {
      this.o.log(`tls: cannot mint a certificate for ${host}: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    secure.on('error', () => secure.destroy());
    this.serveTunnel(secure, { scheme: 'https', host, port });
  }

  private serveTunnel(socket: net.Socket, dest: Destination): void {
    (socket as TunnelSocket).moatDestination = dest;
    this.inner.emit('connection', socket);
    socket.resume();
  }

  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    if (url === HEALTH_PATH) return this.answerHealth(req, res, this.authorized(req));
    if (this.o.inflight && url.startsWith(`${CLAIM_PATH}?`)) return this.answerClaim(req, res);
    if (url.startsWith(BASE_PREFIX) && this.o.spec.role !== 'ingress') return this.onBaseUrlRequest(req, res);
    if (!/^http:\/\//i.test(url)) {
      sendJson(res, 400, {
        error: 'bad_request',
        message: `moat ${this.o.spec.name} is an HTTP proxy: send CONNECT or an absolute-form http:// request`,
      });
      return;
    }
    if (!this.authorized(req)) {
      this.refusals.note('absolute-form http://');
      return askForToken(req, res);
    }
    // The path as sent, not as the URL parser reads it (it resolves dot segments and reads \ as /): handle() reads it
    // with hops/logic/canonical-path.ts, as it reads the paths of every other entrance. The URL parser reads the host.
    const target = /^http:\/\/([^/?#]*)(.*)$/is.exec(url)!;
    if (target[1].includes('\\'))
      return this.ambiguous(req, res, {
        ok: false,
        what: 'backslash',
        reason: 'a backslash in the authority: some clients and servers read it as the start of the path',
      });
    let parsed: URL;
    try {
      parsed = new URL(`http://${target[1]}/`);
    } catch {
      sendJson(res, 400, { error: 'bad_request', message: 'unparsable request URL' });
      return;
    }
    const path = target[2].startsWith('/') ? target[2] : `/${target[2]}`;
    // A base_url hop that honours HTTP_PROXY sends its base-URL request to this link as a proxy (Python's
    // requests does, Go does not): absolute-form, addressed to this very listener.
    if (path.startsWith(BASE_PREFIX) && parsed.hostname === this.o.spec.host && Number(parsed.port) === this.port) {
      req.url = path;
      return this.onBaseUrlRequest(req, res);
    }
    req.url = path;
    const port = Number(parsed.port || 80);
    // URL keeps an IPv6 host in brackets (canonicalHost takes them off) and a trailing dot: one spelling, as from
    // CONNECT.
    const host = canonicalHost(parsed.hostname);
    if (!host) {
      sendJson(res, 400, { error: 'bad_request', message: 'unparsable request URL' });
      return;
    }
    // After a tls: plain hop: what was HTTPS goes on as HTTPS (marked by the link before the hop, or on port 443).
    if (this.o.spec.afterHop?.restoreHttps && (req.headers[PLAIN_MARK] === 'https' || port === 443)) {
      delete req.headers[PLAIN_MARK];
      return this.handle(req, res, { scheme: 'https', host, port });
    }
    this.handle(req, res, { scheme: 'http', host, port });
  }

  /** From a base_url hop: the destination is in the path, the token too (such hops send no Proxy-Authorization). */
  private onBaseUrlRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const parsed = parseBasePath(req.url ?? '');
    const given = Buffer.from(parsed?.token ?? '');
    const expected = Buffer.from(this.o.token);
    if (!parsed || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.refusals.note('base URL');
      req.resume();
      sendJson(res, 407, {
        error: 'proxy_auth_required',
        message: 'the chain token is missing or wrong in the base URL path',
      });
      return;
    }
    req.url = parsed.path;
    // The hop addressed this link; the request is for the destination in the path.
    req.headers.host =
      parsed.port === (parsed.scheme === 'https' ? 443 : 80) ? parsed.host : `${parsed.host}:${parsed.port}`;
    this.handle(req, res, { scheme: parsed.scheme, host: parsed.host, port: parsed.port });
  }

  private answerClaim(req: http.IncomingMessage, res: http.ServerResponse): void {
    // Only the process after this link's hop may ask which request is which.
    if (!this.expectedClaimAuth || !this.authorized(req, this.expectedClaimAuth)) {
      this.refusals.note('trace claim');
      req.resume();
      sendJson(res, 407, {
        error: 'proxy_auth_required',
        message: `${listenerName(this.o.spec)}: the credential is missing or wrong`,
      });
      return;
    }
    const q = new URL(req.url ?? '', 'http://link').searchParams;
    const trace = this.o.inflight!.claim({
      method: q.get('method') ?? '',
      host: q.get('host') ?? '',
      path: q.get('path') ?? '',
    });
    sendJson(res, 200, trace ? { trace } : {});
  }

  /**
   * The previous Moat process's liveness probe (hops/runtime/hop-watchdog.ts), sent here directly or passed on by a
   * third-party hop in between: answered here, never forwarded, recorded or logged.
   */
  private answerHealth(req: http.IncomingMessage, res: http.ServerResponse, authorized: boolean): void {
    if (!authorized) return askForToken(req, res);
    req.resume();
    sendJson(res, 200, { ok: true, hop: this.o.spec.hop, name: this.o.spec.name });
  }

  /**
   * The request's body stopped arriving (hops/runtime/body-timeout.ts): 408 if nothing was answered yet, and the
   * connection closed.
   */
  private bodyTimedOut(req: http.IncomingMessage, res: http.ServerResponse): void {
    const failure = bodyTimeoutFailure(this.bodyTimeout);
    res.shouldKeepAlive = false;
    if (!this.o.forwarder.abort(req, failure) && !this.o.skipForwarder?.abort(req, failure)) {
      if (!res.headersSent) sendJson(res, 408, { ...failure, status: undefined }, { 'x-moat-error': failure.error });
      else if (!res.writableFinished) res.destroy();
    }
    closeConnection(res);
  }

  /**
   * Where every request meets, whichever way it came in (CONNECT, absolute-form, link TLS, base URL; transparent mode
   * and isolated hops arrive as CONNECT), before anything decides on it or records it: the path becomes its one
   * canonical form (hops/logic/canonical-path.ts), which the rules, scope, keys, events, trace claims and the request
   * sent on all read. A path servers read differently is answered 400 ambiguous_request.
   */
  private handle(req: http.IncomingMessage, res: http.ServerResponse, dest: Destination): void {
    const { spec, claimer } = this.o;
    const canonical = canonicalPath(req.url ?? '/', spec.allowInPaths);
    if (!canonical.ok) return this.ambiguous(req, res, canonical);
    req.url = canonical.path;
    if (req.url === HEALTH_PATH) return this.answerHealth(req, res, true);
    // A base-URL path that did not come in as one (wrong address, inside a tunnel) carries the token: never
    // forward or record it.
    if ((req.url ?? '').startsWith(BASE_PREFIX)) {
      req.resume();
      sendJson(res, 400, {
        error: 'bad_request',
        message: `${BASE_PREFIX}… paths are for base_url hops addressing this link directly`,
      });
      return;
    }
    // After a third-party hop: a handshake that arrives without its upgrade lost it in the hop.
    if (spec.afterHop && req.headers[WEBSOCKET_MARK] !== undefined && !upgradeOf(req)) {
      req.resume();
      const failure = websocketUnsupported(spec.afterHop.link);
      sendJson(res, failure.status, { ...failure, status: undefined }, { 'x-moat-error': failure.error });
      return;
    }
    const step = traceStep(spec.role, req.headers, claimer !== undefined);
    if (step !== 'claim') return this.proceed(req, res, dest, step);
    // The hop before dropped the trace: ask the link in front of it which request this is. The body
    // waits in the socket meanwhile (a local round trip, only for hops that drop headers).
    const started = performance.now();
    claimer!.claim({ method: req.method ?? 'GET', host: dest.host, path: req.url ?? '/' }).then((trace) => {
      // Gone while we asked: nothing to forward (and forward() would wait for a 'close' that has passed).
      if (res.destroyed || req.destroyed) return;
      if (!trace) {
        const target = recordableTarget({ method: req.method ?? 'GET', host: dest.host, path: req.url ?? '/' });
        this.o.log(`correlation: no request in hop ${spec.hop - 1} matches ${target}; recorded with a new trace`);
      }
      if (trace) res.setHeader(CLAIMED_HEADER, '1');
      this.proceed(req, res, dest, claimedTrace(trace), started);
    });
  }

  /**
   * 400 ambiguous_request: what is ambiguous and, when ingress.allow_in_paths can let it through, the entry that would.
   */
  private ambiguous(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    refused: Extract<CanonicalPath, { ok: false }>,
  ): void {
    this.ambiguities.note(refused.what);
    req.resume();
    const setting = refused.allowable ? `; an API that needs it: ingress.allow_in_paths: ["${refused.allowable}"]` : '';
    sendJson(
      res,
      400,
      {
        error: 'ambiguous_request',
        message: ambiguityHint(this.o.spec.name, refused.reason, setting),
        ambiguity: refused.what,
      },
      { 'x-moat-error': 'ambiguous_request' },
    );
  }

  private proceed(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    dest: Destination,
    known: KnownTrace,
    started = performance.now(),
  ): void {
    const { spec, logic, recorder } = this.o;
    // The last Moat process on the way out (egress, or the link in front of a hop that dials directly) drops x-moat-*.
    const lastMoat = isLastMoat(spec);
    const headers = endToEndHeaders(req.headers, lastMoat);
    Object.assign(headers, traceHeadersToSend(known, lastMoat));
    if (!upgradeOf(req)) delete headers[WEBSOCKET_MARK];
    else if (spec.role === 'ingress') withoutExtensions(headers);
    const view: RequestView = {
      method: req.method ?? 'GET',
      scheme: dest.scheme,
      host: dest.host,
      port: dest.port,
      path: req.url ?? '/',
      headers: req.headers,
      trace: known.trace,
      correlation: known.correlation,
    };

    // What passes this boundary, both ways: sizes always, hashes and bounded copies when recorded.
    const requestBody = recorder?.tap(view) ?? new BodyTap(0, false);
    req.on('data', (chunk: Buffer) => {
      requestBody.push(chunk);
      bytesPassed.passed(chunk.length);
    });
    const x: Exchange = { view, headers, started, requestBody };
    if (this.skipAsked(req, res, known, headers)) {
      // Round the hop, as requests outside a base_url hop's scope go: the link to the process after the hop; a
      // built-in hop's own process forwards without its logic.
      const skipped = { action: 'forward' as const, decision: { action: 'skipped', reason: 'replay --skip-hop' } };
      return this.decided(req, res, dest, { ...x, bypass: true }, admit(spec, view, skipped, spec.role === 'link'));
    }
    const around = goesAround(spec, view);
    if (around) return this.decided(req, res, dest, x, admit(spec, view, around, true));
    const wanted = logic.bodyLimit?.(view) ?? 0;
    if (wanted <= 0) {
      const decision = logic.onRequest?.(view) ?? { action: 'forward' };
      return this.decided(req, res, dest, x, admit(spec, view, decision, false));
    }
    // The hop decides on the body (moat-policy): it waits here, at most `wanted` bytes, then goes on as read.
    readPrefix(req, wanted, (prefix) => {
      if (res.destroyed) return;
      const decision = logic.onRequest?.(view, prefix) ?? { action: 'forward' };
      this.decided(req, res, dest, { ...x, body: replay(req, prefix) }, admit(spec, view, decision, false));
    });
  }

  /**
   * A replay's ask to skip this process's hop (hops/logic/replay-skip.ts): true when it holds. The header never goes on
   * from here; ingress drops it whatever it says (the agent asks for nothing).
   */
  private skipAsked(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    known: KnownTrace,
    headers: http.OutgoingHttpHeaders,
  ): boolean {
    const { spec } = this.o;
    const value = req.headers[SKIP_HEADER];
    if (value === undefined) return false;
    if (spec.role === 'ingress') {
      delete headers[SKIP_HEADER];
      return false;
    }
    const now = Date.now();
    const check = checkSkip(value, {
      hop: spec.hop,
      key: this.o.skipKey,
      notSkippable: spec.notSkippable,
      trace: known.trace,
      exact: known.correlation === 'exact',
      now,
    });
    if (check.kind === 'none') return false;
    delete headers[SKIP_HEADER];
    const refused = check.kind === 'refused' ? check.reason : undefined;
    const used = refused === undefined && !this.skipped.take(known.trace, now);
    if (refused !== undefined || used) {
      this.skipRefusals.note(refused ?? 'this trace skipped it once already');
      return false;
    }
    res.setHeader(SKIPPED_HEADER, String(spec.hop));
    return true;
  }

  private decided(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    dest: Destination,
    x: Exchange,
    admission: Admission,
  ): void {
    const { logic, recorder } = this.o;
    const { view, headers, started, requestBody } = x;
    if (recorder) {
      if (req.complete) recorder.request(view, requestBody, admission.decision);
      else req.once('end', () => recorder.request(view, requestBody, admission.decision));
    }
    const responseBody = recorder?.tap(view) ?? new BodyTap(0, false);
    // A skipped built-in hop's logic has no say on the response either.
    const copy = x.bypass ? 0 : (logic.responseCopy?.(view) ?? 0);
    const hopCopy = copy > 0 ? new BodyTap(copy, false) : undefined;
    let responseHeaders: http.IncomingHttpHeaders = {};
    let ttfbMs = 0;

    const complete = (status: number, error?: string) => {
      const durationMs = performance.now() - started;
      // The event first: it is spooled before the response's last bytes leave (the forwarder calls this
      // just before it ends `res`), so a process killed at any moment never answered without it. So is
      // moat-policy's token count (onResponse): the next request's budget verdict depends on it.
      recorder?.response(view, {
        status,
        headers: responseHeaders,
        body: responseBody,
        elapsedMs: durationMs,
        ttfbMs,
        error,
        decision: admission.decision,
      });
      if (hopCopy) logic.onResponse?.(view, { status, headers: responseHeaders, body: hopCopy, error });
      // moat-telemetry's log line changes nothing anyone gets: it is made once the response is out.
      const onComplete = x.bypass ? undefined : logic.onComplete;
      if (onComplete) {
        setImmediate(() => {
          const line = onComplete({
            request: view,
            status,
            requestBytes: requestBody.size,
            responseBytes: responseBody.size,
            ttfbMs,
            durationMs,
            error,
          });
          if (line) this.o.log(line);
        });
      }
    };
    // A WebSocket after its 101 (hops/runtime/ws-watch.ts); closed() ends its trace here once both sides are gone.
    let watch: WsWatch | undefined;
    const closed = (relayed: RelayFacts, ending: WsEnding) => {
      const durationMs = performance.now() - started;
      recorder?.websocketClose(view, {
        status: 101,
        headers: responseHeaders,
        elapsedMs: durationMs,
        ttfbMs,
        closedBy: ending.closedBy,
        closeCode: ending.closeCode,
        closeReason: ending.closeReason,
        bytesUp: relayed.bytesUp,
        bytesDown: relayed.bytesDown,
        framesUp: ending.framesUp,
        framesDown: ending.framesDown,
        error: ending.error,
        decision: ending.decision ?? admission.decision,
        provider: ending.provider as Record<string, unknown> | undefined,
      });
      const onComplete = x.bypass ? undefined : logic.onComplete;
      const line = onComplete?.({
        request: view,
        status: 101,
        requestBytes: relayed.bytesUp,
        responseBytes: relayed.bytesDown,
        ttfbMs,
        durationMs,
        error: ending.error,
      });
      if (line) this.o.log(line);
    };
    const answer = (
      status: number,
      body: Record<string, unknown> | unknown[],
      extraHeaders: Record<string, string> = {},
    ) => {
      req.resume();
      const text = sendJson(res, status, body, extraHeaders);
      ttfbMs = performance.now() - started;
      responseHeaders = { 'content-type': 'application/json', ...extraHeaders };
      responseBody.push(Buffer.from(text));
      // The code, never an object: a JSON-RPC error's `error` is one (an MCP denial), x-moat-error then names it.
      const code = !Array.isArray(body) && typeof body.error === 'string' ? body.error : extraHeaders['x-moat-error'];
      complete(status, code || undefined);
    };

    if (admission.log) this.o.log(admission.log);
    if (admission.action === 'respond') return answer(admission.status, admission.body, admission.headers);
    const skip = admission.around;

    // Last, after the events took the request as it arrived: the real key is in what is sent, never in what is
    // recorded.
    const sent = this.o.credentials?.({
      scheme: dest.scheme,
      host: dest.host,
      port: dest.port,
      path: req.url ?? '/',
      headers,
    }) ?? { headers, path: req.url ?? '/' };
    req.headers = sent.headers as http.IncomingHttpHeaders;
    req.url = sent.path;
    const leftHop = skip
      ? undefined
      : this.o.inflight?.add({ trace: view.trace, method: view.method, host: dest.host, path: view.path });
    // Whether the process after the hop claimed an entry here for this request (hops/logic/inflight.ts).
    let claimedFor = false;
    if (leftHop) res.once('close', () => leftHop(claimedFor));
    const forwarder = skip ? this.o.skipForwarder! : this.o.forwarder;
    forwarder.forward(
      req,
      res,
      dest,
      {
        onResponseHeaders: (_status, h, claimed) => {
          claimedFor = claimed === true;
          ttfbMs = performance.now() - started;
          responseHeaders = h;
          recorder?.watchStream(responseBody, h, started);
        },
        onResponseData: (chunk) => {
          responseBody.push(chunk);
          hopCopy?.push(chunk);
          bytesPassed.passed(chunk.length);
        },
        onUpgraded: (relay) => {
          const guard = x.bypass ? undefined : logic.webSocketGuard?.(view);
          const wantsUsage = copy > 0;
          // moat-policy's budget: each response's usage as it finishes, as a response body's is read at its end.
          const onUsage = (facts: ProviderFacts) =>
            logic.onResponse?.(view, { status: 101, headers: responseHeaders, body: NO_BODY, facts });
          watch = new WsWatch({ recorder, view, started, guard, wantsUsage, onUsage, log: this.o.log }, relay);
          return watch.taps();
        },
        onDone: (o) =>
          o.websocket && watch
            ? closed(o.websocket, watch.ended(o.websocket))
            : complete(o.status, o.failure?.error ?? (o.aborted ? 'client_aborted' : undefined)),
      },
      x.body,
    );
  }
}

/** An absolute-form request target: its destination and origin-form path; undefined when it is not one. */
export function parseAbsoluteTarget(target: string): { destination: Destination; path: string } | undefined {
  const m = /^(https?):\/\/([^/?#]+)([^#]*)$/i.exec(target);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase() as 'http' | 'https';
  const authority = /:\d{1,5}$/.test(m[2]) ? m[2] : `${m[2]}:${scheme === 'https' ? 443 : 80}`;
  const hostPort = parseAuthority(authority);
  if (!hostPort) return undefined;
  const path = m[3] === '' ? '/' : m[3].startsWith('/') ? m[3] : `/${m[3]}`;
  return { destination: { scheme, ...hostPort }, path };
}

/** 407 with the challenge a proxy client answers; the request's body, if any, is read and dropped. */
function askForToken(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  sendJson(
    res,
    407,
    { error: 'proxy_auth_required', message: CREDENTIAL_HINT },
    { 'proxy-authenticate': 'Basic realm="moat"' },
  );
}

/**
 * "ingress", "egress", "hop 2 (moat-policy)", "the link in front of hop 3 (tinyproxy)": who refused, in its log line.
 */
export function listenerName(spec: Pick<LinkSpec, 'role' | 'hop' | 'name' | 'port'>): string {
  const who =
    spec.role === 'ingress'
      ? 'ingress'
      : spec.role === 'egress'
        ? 'egress'
        : spec.role === 'link'
          ? `the link in front of hop ${spec.hop} (${spec.name})`
          : `hop ${spec.hop} (${spec.name})`;
  return `${who}, listener 127.0.0.1:${spec.port}`;
}

/** One request between deciding and forwarding. */
interface Exchange {
  view: RequestView;
  /** The headers to send on. */
  headers: http.OutgoingHttpHeaders;
  started: number;
  requestBody: BodyTap;
  /** Set when the hop read the body first: what to send instead of the request stream. */
  body?: Readable;
  /** replay --skip-hop: this process's hop is skipped, its logic has no say. */
  bypass?: boolean;
}

/**
 * CONNECT's authority: host:port, an IPv6 address in brackets. A colon outside brackets is no part of a host
 * (it used to be: "a.com:443:443" tunnelled to a host named "a.com:443").
 */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[3]);
  // Every decision after this reads the host as the server will: one spelling (hops/logic/canonical-host.ts).
  const host = canonicalHost(m[1] ?? m[2]);
  return host && port > 0 && port < 65536 ? { host, port } : undefined;
}
