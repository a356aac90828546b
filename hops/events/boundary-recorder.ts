// Records the boundary a Moat process stands on: builds each exchange's request and response
// events and hands them to the publisher (which never blocks).
import type { IncomingHttpHeaders } from 'node:http';
import { BodyTap } from './body-tap';
import { requestEvent, responseEvent, isStreaming, isSse, type BoundaryInfo } from './boundary-events';
import { SseWatch } from '../providers/sse-watch';
import type { EventPublisher } from './publisher';
import type { DecisionRecord, RequestView } from '../logic/view';
import { adapterFor } from '../providers/adapters';
import { LOOKAHEAD_BYTES } from './capture-body';
import { tunnelEvents, type TunnelFacts } from './tunnel-events';
import { framesEvent, websocketCloseEvent, type FramesBatch, type WebSocketCloseFacts } from './ws-events';

// How much of a provider API body is kept to read model and token counts from (it never goes into events).
const PROVIDER_COPY_BYTES = 1 << 20;

export class BoundaryRecorder {
  constructor(
    readonly info: BoundaryInfo,
    readonly maxBodyBytes: number,
    private readonly publisher: Pick<EventPublisher, 'publish'>,
  ) {}

  /**
   * A tap for one body of this request: it keeps the capture's copy and a little more (a secret
   * straddling the cut is masked whole), or more still for a provider API to read facts from.
   */
  tap(view?: Pick<RequestView, 'host' | 'path'>): BodyTap {
    const capture =
      this.info.capture === 'metadata' || this.maxBodyBytes === 0 ? 0 : this.maxBodyBytes + LOOKAHEAD_BYTES;
    return new BodyTap(view && adapterFor(view.host, view.path) ? Math.max(capture, PROVIDER_COPY_BYTES) : capture);
  }

  /**
   * Once the response's headers are in: an SSE response's tap also times its events (stream health), from `started`,
   * when the request arrived here (performance.now()).
   */
  watchStream(body: BodyTap, headers: IncomingHttpHeaders, started: number): void {
    if (isSse(headers)) body.sse = new SseWatch(started);
  }

  request(view: RequestView, body: BodyTap, decision?: DecisionRecord): void {
    const event = requestEvent(this.info, view, {
      tap: body,
      contentType: header(view.headers, 'content-type'),
      streaming: isStreaming(view.headers),
      captureLimit: this.maxBodyBytes,
    });
    if (decision) {
      event.decision = decision.action;
      if (decision.rule) event.rule = decision.rule;
      if (decision.reason) event.reason = decision.reason;
    }
    // Answers nothing: it may reach the spool with the turn's other lines (hops/events/spool.ts). Its response event,
    // written at once before the answer's last bytes, writes it first if it still waits.
    this.publisher.publish(event, 'this turn');
  }

  response(
    view: RequestView,
    r: {
      status: number;
      headers: IncomingHttpHeaders;
      body: BodyTap;
      elapsedMs: number;
      ttfbMs: number;
      error?: string;
      decision?: DecisionRecord;
    },
  ): void {
    this.publisher.publish(
      responseEvent(this.info, view, {
        status: r.status,
        headers: r.headers,
        body: {
          tap: r.body,
          contentType: header(r.headers, 'content-type'),
          streaming: isStreaming(r.headers),
          captureLimit: this.maxBodyBytes,
        },
        elapsedMs: r.elapsedMs,
        ttfbMs: r.ttfbMs,
        error: r.error,
        decision: r.decision,
      }),
    );
  }

  /** A WebSocket's frames, a batch at a time (hops/runtime/ws-watch.ts). */
  frames(view: RequestView, batch: FramesBatch, provider?: Record<string, unknown>): void {
    this.publisher.publish(framesEvent(this.info, view, batch, provider ? { provider } : {}));
  }

  /** A WebSocket once both sides have closed: the response event that ends its trace here. */
  websocketClose(view: RequestView, facts: WebSocketCloseFacts): void {
    this.publisher.publish(websocketCloseEvent(this.info, view, { ...facts, captureLimit: this.maxBodyBytes }));
  }

  /** A blind tunnel once both sides have closed (or it was refused): its request and response events. */
  tunnel(view: RequestView, facts: TunnelFacts): void {
    for (const event of tunnelEvents(this.info, view, facts)) this.publisher.publish(event);
  }
}

function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
