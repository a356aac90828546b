// HTTPS requests without Node's http client: to the next Moat process over link TLS, and egress's to destinations.
// Node's ClientRequest and Agent were two thirds of what a forwarder spends per request (docs/benchmarks.md, "Issue 22,
// session 19"); here the head is written by us (hops/logic/link-head.ts, checked as strictly as Node checks it), the
// answer is parsed by llhttp, Node's own parser, and arrives as an http.IncomingMessage, so the forwarder reads it as
// it reads any other. WebSocket handshakes, third-party hops, plain HTTP and egress.upstream_proxy keep Node's client.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import { framingOf, requestHead, type Framing } from '../logic/link-head';
import { keptAliveMs } from '../logic/keep-alive-hint';

interface Parser {
  initialize(type: number, resource: object): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
interface ParserClass {
  new (): Parser;
  REQUEST: number;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

/** llhttp as Node binds it; undefined where this Node does not export it (the forwarder then keeps Node's client). */
export const HTTPParser: ParserClass | undefined = (() => {
  try {
    const parser = (require('_http_common') as { HTTPParser?: ParserClass }).HTTPParser;
    return typeof parser === 'function' ? parser : undefined;
  } catch {
    return undefined;
  }
})();

const IDLE_MS = 30_000;
const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/** One connection of a pool: its parser, and the exchange it carries now. */
interface Link {
  socket: tls.TLSSocket;
  parser: Parser;
  /** Header lines llhttp hands over before the head ends (it passes them in batches of 32). */
  lines: string[];
  /** How long it may wait idle once back in the pool: IDLE_MS, or less when the server's last answer said so. */
  idleMs: number;
  /** When it went back to the pool (performance.now()). */
  idleSince: number;
  current?: LinkRequest;
}

/** Where a pool's connections go: TLS to host:port (or to a Unix socket), whose certificate must be one for `name`. */
export interface LinkTarget {
  host: string;
  port: number;
  /** The next Moat process's Unix socket: connections go there instead of to host:port. */
  path?: string;
  /**
   * The destination's name or address, as the request named it (not the address egress.resolve maps it to): the
   * certificate is checked for it, and a name is sent as SNI (an address is not, RFC 6066).
   */
  name: string;
  secureContext: tls.SecureContext;
  /** How a name is resolved (egress's guarded lookup); Node's own when absent. */
  lookup?: net.LookupFunction;
  /** Called when the pool holds no connection any more, open or idle (its owner may then drop it). */
  onEmpty?: () => void;
  /** Where the pool keeps the server's TLS session, when it must outlive the pool; the pool's own otherwise. */
  sessions?: SessionCache;
}

/**
 * The last TLS session each server gave, offered again by the next connection to it, as Node's https.Agent keeps them:
 * by host, port and name, the oldest forgotten past `max`.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Buffer>();

  constructor(private readonly max = 100) {}

  get(key: string): Buffer | undefined {
    return this.sessions.get(key);
  }

  /** undefined forgets the key's session (a connection that failed does not offer it again, as Node's agent). */
  set(key: string, session: Buffer | undefined): void {
    this.sessions.delete(key);
    if (!session) return;
    this.sessions.set(key, session);
    if (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value as string);
  }
}

/** Kept-alive TLS connections to one server, most recently used first. */
export class LinkPool {
  private readonly idle: Link[] = [];
  private closed = false;
  /**
   * Connections open now (idle or carrying a request), and requests made that have not yet taken one: while any is
   * left the pool is not empty (onEmpty), so its owner never drops a pool a request is about to use.
   */
  private users = 0;
  private readonly sessions: SessionCache;
  private readonly sessionKey: string;
  /** Sent as Host by a request that has none, as Node's client sends the address it connects to. */
  private readonly defaultHost: string;

  constructor(private readonly target: LinkTarget) {
    const { host, port, name } = target;
    this.sessions = target.sessions ?? new SessionCache(1);
    this.sessionKey = `${host}:${port}:${name}`;
    this.defaultHost = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  }

  /** A request to send: write its body (or end it), listen for 'response' and 'error', as with http.request. */
  request(method: string, path: string, headers: http.OutgoingHttpHeaders): LinkRequest {
    return new LinkRequest(this, method, path, headers, this.defaultHost);
  }

  /** @internal An idle connection, or a new one. */
  take(): Link {
    const now = performance.now();
    for (let link = this.idle.pop(); link; link = this.idle.pop()) {
      // Not one closed by its idle timer or by the server (its 'close', which takes it out of the pool, comes a turn
      // later), nor one idle past its time whose timer has not run yet (the server may be closing it): any of them
      // fails the request as a reset.
      if (!link.socket.writable || now - link.idleSince >= link.idleMs) {
        link.socket.destroy();
        continue;
      }
      link.socket.setTimeout(0);
      link.socket.ref();
      // A fresh parse for every answer, as Node's client has: nothing left of the last one is read into this one.
      link.parser.initialize(HTTPParser!.RESPONSE, {});
      link.lines = [];
      return link;
    }
    return this.open();
  }

  /** @internal The exchange is over and the connection can carry another. */
  release(link: Link): void {
    link.current = undefined;
    if (this.closed || link.socket.destroyed || link.idleMs === 0) return void link.socket.destroy();
    // As Node's Agent keeps a free socket: closed after its idle time unused, and it keeps no process alive on its own.
    link.socket.setTimeout(link.idleMs);
    link.socket.unref();
    link.idleSince = performance.now();
    this.idle.push(link);
  }

  private open(): Link {
    const { host, port, path, name, secureContext, lookup } = this.target;
    const session = this.sessions.get(this.sessionKey);
    const socket = tls.connect({
      ...(path ? { path } : { host, port }),
      ...(net.isIP(name) ? {} : { servername: name }),
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
      secureContext,
      ...(session ? { session } : {}),
      ...(lookup ? { lookup } : {}),
    });
    this.enter();
    socket.setNoDelay(true);
    // TCP keep-alive probes, as Node's Agent sets on its sockets: a peer that vanished is noticed while idle.
    socket.setKeepAlive(true, 1000);
    socket.on('session', (given: Buffer) => this.sessions.set(this.sessionKey, given));
    const parser = new HTTPParser!();
    parser.initialize(HTTPParser!.RESPONSE, {});
    const link: Link = { socket, parser, lines: [], idleMs: IDLE_MS, idleSince: 0 };
    parser[HTTPParser!.kOnHeaders] = (lines: string[]) => void link.lines.push(...lines);
    parser[HTTPParser!.kOnHeadersComplete] = (
      major: number,
      minor: number,
      raw: string[] | undefined,
      _method: unknown,
      _url: unknown,
      status: number,
      statusMessage: string,
      _upgrade: boolean,
      keepAlive: boolean,
    ) => link.current?.onHead(status, statusMessage, raw ?? link.lines.splice(0), keepAlive, major, minor) ?? 0;
    parser[HTTPParser!.kOnBody] = (chunk: Buffer) => link.current?.onBody(chunk);
    parser[HTTPParser!.kOnMessageComplete] = () => link.current?.onComplete();
    socket.on('data', (data: Buffer) => {
      // Bytes while no request waits for them are no answer to anything: the connection is not trusted again.
      if (!link.current || link.current.answered) return void socket.destroy();
      let result: number | Error;
      try {
        result = parser.execute(data);
      } catch (err) {
        result = err as Error;
      }
      if (result instanceof Error) socket.destroy(notHttp(result));
    });
    // An answer that ends with the connection (no length, not chunked) is complete only then; one cut short is a
    // connection reset, as Node's client reports it.
    socket.on('end', () => {
      let result: number | Error | undefined;
      try {
        result = parser.finish();
      } catch (err) {
        result = err as Error;
      }
      if (result instanceof Error) link.current?.onSocketGone();
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', (err) => {
      this.sessions.set(this.sessionKey, undefined);
      link.current?.onSocketGone(err);
    });
    socket.on('close', () => {
      const at = this.idle.indexOf(link);
      if (at >= 0) this.idle.splice(at, 1);
      link.parser.close();
      link.current?.onSocketGone();
      this.leave();
    });
    return link;
  }

  /** @internal One more connection, or request waiting for one. */
  enter(): void {
    this.users++;
  }

  /** @internal One fewer: a connection closed, or a waiting request took one or was dropped. */
  leave(): void {
    if (--this.users === 0) this.target.onEmpty?.();
  }

  destroy(): void {
    this.closed = true;
    for (const link of this.idle.splice(0)) link.socket.destroy();
  }
}

/**
 * One request on a link: a Writable for its body (the head goes with the first chunk, or with the end), which emits
 * 'response' with an http.IncomingMessage and 'error' with a code as Node's client names it (ECONNRESET when the
 * connection ends before the answer).
 */
export class LinkRequest extends Writable {
  private link?: Link;
  /** The head for a request that ends with no body, made when the request is: most requests send it as it is. */
  private readonly bare: { framing: Framing; head: string };
  private framing?: Framing;
  private response?: http.IncomingMessage;
  private sentAll = false;
  /** A connection was taken: this request never takes another, even once that one is gone. */
  private taken = false;
  /** Counted among the pool's users until it takes a connection or is dropped. */
  private waiting = true;
  private reusable = true;

  constructor(
    private readonly pool: LinkPool,
    private readonly method: string,
    private readonly path: string,
    private readonly headers: http.OutgoingHttpHeaders,
    private readonly defaultHost: string,
  ) {
    // Not destroyed once its body is sent: the answer is still to come on the connection.
    super({ decodeStrings: true, autoDestroy: false });
    // Checked now, as Node's client checks when a request is made: what cannot be sent never opens a connection.
    const framing = framingOf(method, headers, false);
    this.bare = { framing, head: requestHead(method, path, headers, framing, defaultHost) };
    pool.enter();
  }

  /** @internal The answer has ended here (what comes after it on the connection is not read). */
  get answered(): boolean {
    return this.response?.complete === true;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const socket = this.start(true);
    if (!socket || chunk.length === 0) return done();
    // Errors of the connection reach the request through onSocketGone, once.
    if (this.framing!.kind !== 'chunked') return void socket.write(chunk, () => done());
    socket.cork();
    socket.write(chunk.length.toString(16) + '\r\n');
    socket.write(chunk);
    socket.write(CRLF, () => done());
    socket.uncork();
  }

  override _final(done: (err?: Error | null) => void): void {
    const socket = this.start(false);
    if (socket && this.framing!.kind === 'chunked') socket.write(LAST_CHUNK);
    this.sentAll = true;
    if (this.response?.readableEnded) this.finishLink();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.stopWaiting();
    const link = this.link;
    if (link) {
      // Dropped before its exchange was over (its answer not read to the end, or its body not all sent): the
      // connection is mid-exchange, so it is closed, never reused.
      this.link = undefined;
      link.current = undefined;
      link.socket.destroy();
      if (this.response && !this.response.complete) this.response.destroy(err ?? undefined);
    }
    done(err);
  }

  /** Takes a connection and writes the head (corked with what follows); undefined once the exchange is gone. */
  private start(bodyWritten: boolean): tls.TLSSocket | undefined {
    if (this.link) return this.answered && !this.reusable ? undefined : this.link.socket;
    if (this.destroyed || this.taken) return undefined;
    this.taken = true;
    const framing = framingOf(this.method, this.headers, bodyWritten);
    const same = framing.kind === this.bare.framing.kind;
    this.framing = same ? this.bare.framing : framing;
    const head = same ? this.bare.head : requestHead(this.method, this.path, this.headers, framing, this.defaultHost);
    const link = this.pool.take();
    this.stopWaiting();
    link.current = this;
    this.link = link;
    link.socket.cork();
    // Latin-1, as Node writes a head: a value's bytes above 0x7f arrive as they were read.
    link.socket.write(head, 'latin1');
    process.nextTick(() => link.socket.uncork());
    return link.socket;
  }

  /** @internal llhttp read the answer's head; returns 1 to read no body (HEAD, informational answers). */
  onHead(status: number, statusMessage: string, raw: string[], keepAlive: boolean, major = 1, minor = 1): number {
    if (this.response) {
      // A second answer to one request (bytes past the end of the first): nothing on this connection is read again.
      this.reusable = false;
      this.link?.socket.destroy();
      return 1;
    }
    // 100 Continue and other informational answers come before the real one (a 101 only answers an upgrade).
    if (status >= 100 && status < 200) {
      if (status === 101) this.onSocketGone(linkError('the server switched protocols unasked'));
      return 1;
    }
    const res = new http.IncomingMessage(this.link!.socket);
    res.statusCode = status;
    res.statusMessage = statusMessage;
    res.httpVersionMajor = major;
    res.httpVersionMinor = minor;
    res.httpVersion = `${major}.${minor}`;
    // Node's own way from raw lines to res.headers (duplicates joined or dropped as its client does).
    (res as unknown as { _addHeaderLines(raw: string[], n: number): void })._addHeaderLines(raw, raw.length);
    this.reusable = keepAlive;
    this.link!.idleMs = keptAliveMs(res.headers['keep-alive'], IDLE_MS);
    this.response = res;
    // As Node's client: the connection carries the next request only once this answer has been read to its end.
    res.once('end', () => {
      if (this.sentAll) this.finishLink();
    });
    this.emit('response', res);
    return this.method === 'HEAD' ? 1 : 0;
  }

  /** @internal A piece of the answer's body; the connection waits while the reader is full. */
  onBody(chunk: Buffer): void {
    if (this.response && !this.response.push(chunk)) this.link?.socket.pause();
  }

  /** @internal The answer ended here. */
  onComplete(): void {
    const res = this.response;
    if (!res) return;
    // Answered before its body was all sent: the rest cannot go on this connection.
    if (!this.sentAll) this.reusable = false;
    res.complete = true;
    res.push(null);
    // A reader that was full paused the connection; the answer is all here, so the connection reads again (a
    // connection back in the pool paused would never see the next answer).
    this.link?.socket.resume();
  }

  /** @internal The connection failed or closed: before the answer, an error; during it, the answer breaks off. */
  onSocketGone(err?: Error): void {
    const link = this.link;
    if (!link || this.answered) return;
    this.link = undefined;
    link.current = undefined;
    link.socket.destroy();
    if (this.response) {
      this.response.destroy(err ?? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      return;
    }
    this.emit('error', err ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    this.destroy();
  }

  private stopWaiting(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.pool.leave();
  }

  private finishLink(): void {
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    if (this.reusable) this.pool.release(link);
    else {
      link.current = undefined;
      link.socket.destroy();
    }
  }
}

function linkError(message: string): Error {
  return Object.assign(new Error(message), { code: 'HPE_INVALID_RESPONSE' });
}

/** What llhttp could not read as an answer, with its own code (HPE_...), as Node's client reports it. */
function notHttp(err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code;
  return Object.assign(new Error(`the server answered what is not HTTP/1.1: ${err.message}`), {
    code: typeof code === 'string' && code.startsWith('HPE_') ? code : 'HPE_INVALID_RESPONSE',
  });
}
