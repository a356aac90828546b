// The event the event benches store and send (ledger-order, nats-load): a request or response as a recording boundary
// records GET /v1/models, about 700 bytes of JSON.
import { EMPTY_SHA256 } from '../../hops/events/body-tap';
import type { MoatEvent } from '../../schemas/generated/event';

export function sampleEvent(o: {
  id: string;
  chain: string;
  trace: string;
  /** The traceparent's span id (16 hex digits). */
  span: string;
  direction: 'request' | 'response';
}): MoatEvent {
  return {
    id: o.id,
    chain: o.chain,
    trace: o.trace,
    hop: 1,
    hop_name: 'moat-telemetry',
    boundary: 0,
    direction: o.direction,
    time: new Date().toISOString(),
    method: 'GET',
    scheme: 'https',
    host: 'api.anthropic.com',
    port: 443,
    path: '/v1/models',
    correlation: 'exact',
    header_names: ['connection', 'host', 'traceparent', 'x-moat-trace'],
    headers: {
      host: 'api.anthropic.com',
      traceparent: `00-${o.trace}-${o.span}-01`,
      'x-moat-trace': o.trace,
      connection: 'keep-alive',
    },
    body_size: 0,
    body_sha256: EMPTY_SHA256,
    streaming: false,
  } as MoatEvent;
}
