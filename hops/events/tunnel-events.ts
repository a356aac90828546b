// The events of one blind tunnel at one boundary (pure): what passed is bytes, not requests, so
// the request event carries the bytes sent towards the destination and the response event the
// bytes back, the tunnel's life and how it ended. Both say intercepted: false.
import type { MoatEvent } from '../../schemas/generated/event';
import { eventBase, type BoundaryInfo } from './boundary-events';
import { recordableHeaders } from './recordable';
import type { DecisionRecord, RequestView } from '../logic/view';

export interface TunnelFacts {
  /** The answer to the CONNECT: 200 when the tunnel opened, else the refusal's status. */
  status: number;
  bytesUp: number;
  bytesDown: number;
  /** From the CONNECT's arrival until the tunnel opened or was refused, in ms. */
  openMs: number;
  /** From the CONNECT's arrival until both sides had closed, in ms. */
  durationMs: number;
  /** Why it was refused or ended badly (egress_denied, hop_unavailable, tunnel_reset, client_aborted, ...). */
  error?: string;
  decision?: DecisionRecord;
}

const ms = (x: number) => Math.round(x * 1000) / 1000;

export function tunnelEvents(info: BoundaryInfo, view: RequestView, t: TunnelFacts): [MoatEvent, MoatEvent] {
  const headers = recordableHeaders(view.headers, info, view.trace);
  const decided = (e: MoatEvent): MoatEvent => {
    if (t.decision) {
      e.decision = t.decision.action;
      if (t.decision.rule) e.rule = t.decision.rule;
      if (t.decision.reason) e.reason = t.decision.reason;
    }
    return e;
  };
  const request: MoatEvent = {
    ...eventBase(info, view, 'request'),
    intercepted: false,
    header_names: Object.keys(headers).sort(),
    headers,
    body_size: t.bytesUp,
    streaming: true,
  };
  const response: MoatEvent = {
    ...eventBase(info, view, 'response'),
    intercepted: false,
    status: t.status,
    body_size: t.bytesDown,
    streaming: true,
    elapsed_ms: ms(t.durationMs),
    ttfb_ms: ms(t.openMs),
  };
  if (t.error) response.error = t.error;
  return [decided(request), decided(response)];
}
