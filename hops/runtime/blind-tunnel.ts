// A CONNECT to a host outside tls.intercept: passed on as a CONNECT to the next process (egress:
// a TCP connection to the destination), answered 200 only once the whole chain has opened it, then
// piped both ways without decrypting anything. A refusal on the way (a policy denial, egress.allow,
// a hop that is down) reaches the agent as the answer to its CONNECT.
import type http from 'node:http';
import net from 'node:net';
import { describeFailure } from '../logic/failure';
import { resolveAddress } from './forwarder';
import { namedExactly } from '../logic/egress-allow';
import { nextDialsItself } from '../logic/onward';
import { admit, claimedTrace, goesAround, traceStep, type KnownTrace } from '../logic/admission';
import { guardDial } from './egress-dial';
import type { DecisionRecord, HopLogic, RequestView } from '../logic/view';
import type { LinkSpec, NextHop } from '../spec';
import type { BoundaryRecorder } from '../events/boundary-recorder';
import type { InflightRegistry } from '../logic/inflight';
import type { TraceClaimer } from './trace-claim';
import type { TunnelFacts } from '../events/tunnel-events';
import { headFields, parseConnectHead, withField, withoutField } from '../logic/connect-reply';
import { blameBeyond, hopAnswerFailure, madeByHop, VIA_HEADER, withSentence } from '../logic/hop-answer';
import { probeBeyond } from './health-probe';
import type { Failure } from '../logic/failure';
import { PARK_HEADER, parkingKey, type TunnelParking } from './tunnel-parking';
import { dialHop } from './hop-entrance';
import { viaUpstreamProxy } from '../logic/upstream-proxy';
import type { UpstreamProxy } from './upstream-proxy';
import { bytesPassed } from './scavenge-hint';

export interface BlindTunnelContext {
  spec: LinkSpec;
  /**
   * The Proxy-Authorization the given next process takes ('' for a third-party hop: its upstream setting has its own).
   */
  authorizationTo: (next: NextHop) => string;
  /** The entrance line of an isolated third-party hop (hop-entrance.ts); undefined for any other next process. */
  entranceTo: (next: NextHop) => Buffer | undefined;
  logic: HopLogic;
  recorder?: BoundaryRecorder;
  inflight?: InflightRegistry;
  claimer?: TraceClaimer;
  log: (line: string) => void;
  /** At egress: egress.upstream_proxy, through which tunnels outside its bypass are opened. */
  upstream?: UpstreamProxy;
  /** After a third-party hop: tunnels opened for the link in front of the hop, held for the hop's CONNECT. */
  parking?: TunnelParking;
  /** In front of a third-party forward hop: the Proxy-Authorization of the Moat process after it (its credential). */
  beyondAuthorization?: string;
}

// How long the next process may take to open its side, and, shorter, egress the destination's: a destination that
// never answers is then reported by egress (504 upstream_timeout) before any process before it gives up on the next.
const OPEN_TIMEOUT_MS = 10_000;
const DESTINATION_OPEN_TIMEOUT_MS = 8_000;

export function relayBlind(
  c: BlindTunnelContext,
  req: http.IncomingMessage,
  client: net.Socket,
  head: Buffer,
  dest: { host: string; port: number },
): void {
  const started = performance.now();
  client.pause();
  const go = (known: KnownTrace) => {
    if (client.destroyed) return;
    const view: RequestView = {
      method: 'CONNECT',
      scheme: 'https',
      host: dest.host,
      port: dest.port,
      path: '',
      headers: req.headers,
      trace: known.trace,
      correlation: known.correlation,
    };
    // The link in front of the hop before this process asks it to open the tunnel and hold it (tunnel-parking.ts).
    const park = c.parking !== undefined && req.headers[PARK_HEADER] !== undefined;
    new BlindTunnel(c, view, client, head, started, park).start();
  };
  const step = traceStep(c.spec.role, req.headers, c.claimer !== undefined);
  if (step !== 'claim') return go(step);
  // The hop before dropped the trace header of the CONNECT: the link in front of it knows which tunnel this is.
  c.claimer!.claim({ method: 'CONNECT', host: dest.host, path: '' }).then((trace) => go(claimedTrace(trace)));
}

class BlindTunnel {
  private decision?: DecisionRecord;
  private openMs = 0;
  private up = 0;
  private down = 0;
  private error?: string;
  /** In front of a forward hop: the request in the hop, for the process after it to claim; kept while the tunnel is. */
  private leftHop?: () => void;

  constructor(
    private readonly c: BlindTunnelContext,
    private readonly view: RequestView,
    private client: net.Socket,
    private head: Buffer,
    private readonly started: number,
    /** Asked by the link in front of the hop before this process to open the tunnel and hold it for the hop. */
    private park = false,
  ) {}

  start(): void {
    const { spec, logic, parking } = this.c;
    if (parking) {
      const key = parkingKey(this.view);
      // The hop opened its side before answering the link (tinyproxy): nothing to hold, the tunnel is open.
      if (this.park && parking.isOpen(key)) {
        this.client.end('HTTP/1.1 200 Connection Established\r\n\r\n');
        return;
      }
      // The hop's CONNECT for a tunnel held for it: it takes that one, decided and recorded once, when it was opened.
      if (!this.park) {
        const held = parking.take(key);
        if (held) return held.adopt(this.client, this.head);
      }
    }
    // Round a base_url hop (it takes no CONNECT), else as the hop decides; egress.allow last (hops/logic/admission.ts).
    const around = goesAround(spec, this.view);
    const decision = around ?? logic.onTunnel?.(this.view) ?? { action: 'forward' };
    const admission = admit(spec, this.view, decision, around !== undefined);
    this.decision = admission.decision;
    if (admission.log) this.c.log(admission.log);
    if (admission.action === 'respond') return this.refuse(admission.status, admission.body, admission.headers);
    const { onward } = spec;
    if (onward.kind === 'internet') return this.openToDestination();
    this.openThroughNext(admission.around && onward.kind === 'base_url_hop' ? onward.skip : onward.next);
  }

  private openToDestination(): void {
    const { host, port } = this.view;
    const egress = this.c.spec.egress!;
    const proxy = this.c.upstream;
    if (proxy && viaUpstreamProxy(proxy.spec, egress.resolve, host, port)) return this.openThroughUpstream(proxy);
    const mapped = resolveAddress(egress.resolve, { scheme: 'https', host, port });
    // Raw TCP to whatever answers: a host the config does not name exactly is dialled only to an address egress may
    // reach, checked on the address connected to (hops/runtime/egress-dial.ts).
    const options = { host: mapped.host, port: mapped.port, noDelay: true };
    const dial = namedExactly(egress, host, port) ? options : guardDial(options, egress.allowPrivateAddresses === true);
    if (dial instanceof Error) return this.failed(describeFailure(dial, false, undefined, host));
    const upstream = net.connect(dial);
    let timedOut = false;
    upstream.setTimeout(DESTINATION_OPEN_TIMEOUT_MS, () => {
      timedOut = true;
      upstream.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    });
    const onError = (err: NodeJS.ErrnoException) => this.failed(describeFailure(err, timedOut, undefined, host));
    upstream.once('error', onError);
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      upstream.removeListener('error', onError);
      this.established(upstream);
    });
  }

  /**
   * A CONNECT through the corporate proxy, which resolves the name: an address written as such is still checked
   * (egress-dial.ts) unless egress.allow names it exactly.
   */
  private openThroughUpstream(upstream: UpstreamProxy): void {
    const { host, port } = this.view;
    const egress = this.c.spec.egress!;
    if (!namedExactly(egress, host, port)) {
      const literal = guardDial({ host }, egress.allowPrivateAddresses === true);
      if (literal instanceof Error) return this.failed(describeFailure(literal, false, undefined, host));
    }
    upstream.connect(authorityOf(this.view), DESTINATION_OPEN_TIMEOUT_MS).then(
      (socket) => this.established(socket),
      (err: NodeJS.ErrnoException) => this.failed(describeFailure(err, err.code === 'ETIMEDOUT', undefined, host)),
    );
  }

  private openThroughNext(next: NextHop): void {
    const { spec, authorizationTo, inflight } = this.c;
    // In front of a hop that dials directly: no credential and no x-moat-* for it (as for requests).
    const direct = nextDialsItself(spec.onward);
    const authorization = direct ? '' : authorizationTo(next);
    const headers: Record<string, string> = direct
      ? {}
      : { ...(authorization ? { 'proxy-authorization': authorization } : {}), 'x-moat-trace': this.view.trace };
    const left = inflight?.add({ trace: this.view.trace, method: 'CONNECT', host: this.view.host, path: '' });
    const beyond = this.beyond();
    connectThrough(next.port, authorityOf(this.view), headers, OPEN_TIMEOUT_MS, this.c.entranceTo(next)).then(
      (result) => {
        if ('socket' in result && beyond && this.c.beyondAuthorization) {
          // The hop may have said 200 before opening its side: the process after it opens the tunnel first, and the
          // hop's CONNECT, which comes after the agent's first bytes, finds it there by its trace (claimed here).
          this.leftHop = left;
          return this.openBeyond(beyond, result.socket);
        }
        left?.();
        if ('socket' in result) return this.established(result.socket);
        this.refusedFurther(next, result.response);
      },
      (err: NodeJS.ErrnoException) => {
        left?.();
        const failure = describeFailure(err, err.code === 'ETIMEDOUT', next, this.view.host);
        const beyond = this.beyond();
        if (!beyond || (failure.error !== 'hop_failed' && failure.error !== 'hop_timeout')) return this.failed(failure);
        // The third-party hop may only have passed on a failure of the Moat process after it: asked directly, that
        // one is named when it does not answer.
        void probeBeyond(beyond.port).then((r) => this.failed(blameBeyond(failure, beyond, r) ?? failure));
      },
    );
  }

  /**
   * The hop said 200: the Moat process after it is asked to open the tunnel onwards and hold it for the hop
   * (tunnel-parking.ts). Its refusal, or its failure, answers the agent's CONNECT, and the hop's side is closed unused.
   */
  private openBeyond(beyond: NextHop, hop: net.Socket): void {
    hop.on('error', () => hop.destroy());
    const headers = {
      'proxy-authorization': this.c.beyondAuthorization!,
      'x-moat-trace': this.view.trace,
      [PARK_HEADER]: '1',
    };
    connectThrough(beyond.port, authorityOf(this.view), headers, OPEN_TIMEOUT_MS).then(
      (result) => {
        if ('socket' in result) {
          result.socket.destroy();
          return this.established(hop);
        }
        hop.destroy();
        this.refusedFurther(beyond, result.response);
      },
      (err: NodeJS.ErrnoException) => {
        hop.destroy();
        this.failed(withSentence(describeFailure(err, err.code === 'ETIMEDOUT', beyond, this.view.host)));
      },
    );
  }

  /** After a third-party forward hop: the Moat process behind it, which marks its answers (logic/hop-answer.ts). */
  private beyond(): NextHop | undefined {
    const { onward } = this.c.spec;
    return onward.kind === 'forward_hop' ? onward.beyond : undefined;
  }

  /**
   * Refused further on (a denial, egress.allow, a hop down behind this one): the agent gets that answer, without the
   * mark of the Moat process after a third-party hop; a hop's own error (a 5xx without the mark) becomes moat's JSON
   * naming the one that failed.
   */
  private refusedFurther(next: NextHop, response: Buffer): void {
    const head = parseConnectHead(response);
    const status = typeof head === 'object' ? head.status : 502;
    const beyond = this.beyond();
    if (beyond && typeof head === 'object' && madeByHop(status, headFields(head.head), beyond)) {
      const body = response.subarray(head.bodyStart).toString('utf8');
      void probeBeyond(beyond.port).then((r) => this.failed(hopAnswerFailure(next, beyond, status, body, r)));
      return;
    }
    this.openMs = performance.now() - this.started;
    this.error = errorOf(response);
    // The mark goes one hop only: this process's own after a third-party hop, none elsewhere.
    const { afterHop, hop } = this.c.spec;
    this.client.end(afterHop ? withField(response, VIA_HEADER, String(hop)) : withoutField(response, VIA_HEADER));
    this.client.resume();
    this.record(status);
  }

  private established(upstream: net.Socket): void {
    const { client } = this;
    if (client.destroyed) {
      upstream.destroy();
      return this.record(200, 'client_aborted');
    }
    this.openMs = performance.now() - this.started;
    if (this.park) return this.hold(upstream);
    const closedHere = this.c.parking?.opened(parkingKey(this.view));
    client.once('close', () => closedHere?.());
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (this.head.length > 0) {
      this.up += this.head.length;
      upstream.write(this.head);
    }
    let open = 2;
    const closed = () => {
      if (--open === 0) this.record(200);
    };
    // Once the destination's side has ended, the tunnel has done its work: what the agent still sends (its TLS
    // close_notify) may meet a socket the next process already closed (EPIPE, ECONNRESET), which is no reset.
    let upstreamEnded = false;
    upstream.once('end', () => (upstreamEnded = true));
    const reset = () => {
      if (!upstreamEnded) this.error ??= 'tunnel_reset';
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      this.up += chunk.length;
      bytesPassed.passed(chunk.length);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.down += chunk.length;
      bytesPassed.passed(chunk.length);
    });
    client.on('error', reset);
    upstream.on('error', reset);
    client.once('close', () => {
      upstream.destroy();
      closed();
    });
    upstream.once('close', () => {
      // The destination closed: what it sent is delivered first, then the agent's side ends too. What the agent
      // still sends (a TLS close_notify) has nowhere to go: it is read and dropped, not a reset.
      client.unpipe(upstream);
      client.resume();
      if (!client.destroyed) client.end();
      closed();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /**
   * Open onwards for the link in front of the hop before this process: it is told 200, and the tunnel waits for the
   * hop's CONNECT (tunnel-parking.ts), which takes it and is piped to it; unused, it is closed and recorded so.
   */
  private hold(upstream: net.Socket): void {
    upstream.on('error', () => upstream.destroy());
    upstream.pause();
    this.park = false;
    this.c.parking!.park(
      parkingKey(this.view),
      {
        adopt: (client, head) => {
          this.client.destroy();
          this.client = client;
          this.head = head;
          if (upstream.destroyed) {
            client.destroy();
            return this.record(502, 'tunnel_reset');
          }
          this.established(upstream);
        },
      },
      () => {
        upstream.destroy();
        this.client.destroy();
        this.record(200, 'tunnel_unused');
      },
    );
    this.client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    this.client.end();
  }

  private failed(failure: Failure): void {
    this.refuse(failure.status, { ...failure, status: undefined }, { 'x-moat-error': failure.error });
  }

  private refuse(
    status: number,
    body: Record<string, unknown> | unknown[],
    headers: Record<string, string> = {},
  ): void {
    this.openMs = performance.now() - this.started;
    if (!Array.isArray(body) && typeof body.error === 'string') this.error = body.error;
    // After a third-party hop, the mark tells the link in front of it that this refusal is no answer of the hop's.
    const via: Record<string, string> = this.c.spec.afterHop ? { [VIA_HEADER]: String(this.c.spec.hop) } : {};
    this.client.end(refusal(status, body, { ...headers, ...via }));
    this.client.resume();
    this.record(status);
  }

  private record(status: number, error = this.error): void {
    this.leftHop?.();
    const facts: TunnelFacts = {
      status,
      bytesUp: this.up,
      bytesDown: this.down,
      openMs: this.openMs,
      durationMs: performance.now() - this.started,
      error,
      decision: this.decision,
    };
    const line = this.c.logic.onComplete?.({
      request: this.view,
      status,
      requestBytes: this.up,
      responseBytes: this.down,
      ttfbMs: facts.openMs,
      durationMs: facts.durationMs,
      error,
    });
    if (line) this.c.log(line);
    this.c.recorder?.tunnel(this.view, facts);
  }
}

function authorityOf(view: Pick<RequestView, 'host' | 'port'>): string {
  return net.isIPv6(view.host) ? `[${view.host}]:${view.port}` : `${view.host}:${view.port}`;
}

const REASONS: Record<number, string> = {
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/** A CONNECT refused: a complete HTTP response with a JSON body, after which the connection closes. */
export function refusal(
  status: number,
  body: Record<string, unknown> | unknown[],
  headers: Record<string, string> = {},
): Buffer {
  const text = JSON.stringify(body) + '\n';
  const lines = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Refused'}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(text)}`,
    'connection: close',
  ];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + text);
}

/** The error code of a refusal's JSON body, if it has one. */
function errorOf(response: Buffer): string | undefined {
  const body = response.subarray(response.indexOf('\r\n\r\n') + 4).toString('utf8');
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : 'connect_refused';
  } catch {
    return 'connect_refused';
  }
}

type ConnectResult = { socket: net.Socket } | { status: number; response: Buffer };

/**
 * CONNECT authority through the proxy on 127.0.0.1:port. Resolves with the raw socket once it answered 200, or
 * with its refusal, whole (status line, headers, and the body by Content-Length or until it closes).
 */
export function connectThrough(
  port: number,
  authority: string,
  headers: Record<string, string>,
  timeoutMs = OPEN_TIMEOUT_MS,
  entrance?: Buffer,
): Promise<ConnectResult> {
  return new Promise((resolve, reject) => {
    const raw = dialHop(port, entrance);
    let got = Buffer.alloc(0);
    let status = 0;
    let want = -1; // bytes of the refusal, once its head is read; -1 until then, Infinity: until close
    const timer = setTimeout(
      () => fail(Object.assign(new Error('CONNECT timed out'), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    const refused = () => {
      clearTimeout(timer);
      raw.destroy();
      resolve({ status, response: got });
    };
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (want < 0) {
        const reply = parseConnectHead(got);
        if (reply === 'incomplete') return;
        if (reply === 'too_large') return fail(new Error('CONNECT response headers too large'));
        status = reply.status;
        if (status === 200) {
          clearTimeout(timer);
          raw.removeListener('data', onData);
          raw.removeListener('error', fail);
          raw.removeListener('end', onEnd);
          raw.pause();
          const rest = got.subarray(reply.bodyStart);
          if (rest.length > 0) raw.unshift(rest);
          return resolve({ socket: raw });
        }
        if (status === 0)
          return fail(
            Object.assign(new Error(`answered CONNECT with ${JSON.stringify(reply.head.slice(0, 80))}`), {
              code: 'MOAT_CONNECT_REFUSED',
            }),
          );
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(reply.head);
        want = length ? reply.bodyStart + Number(length[1]) : Infinity;
      }
      if (got.length >= want) {
        got = got.subarray(0, want);
        refused();
      }
    };
    const onEnd = () =>
      status && status !== 200
        ? refused()
        : fail(Object.assign(new Error('closed before answering CONNECT'), { code: 'ECONNRESET' }));
    raw.on('data', onData);
    raw.once('error', fail);
    raw.once('end', onEnd);
    raw.once('connect', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${extra}\r\n`);
    });
  });
}
