// Events as the Moat processes of a chain would publish them, for tests of the telemetry
// aggregator (no NATS, no sockets). Default chain: [moat-telemetry, moat-policy], then egress,
// so boundaries 0 (hop 1), 1 (hop 2) and 2 (egress, hop 3).
import type { MoatEvent } from '../../schemas/generated/event';
import type { StreamHealth } from '../../hops/providers/sse-watch';

export const HOP_NAMES = ['moat-telemetry', 'moat-policy', 'egress'];

let counter = 0;

export function event(
  trace: string,
  boundary: number,
  direction: 'request' | 'response',
  fields: Partial<MoatEvent> = {},
): MoatEvent {
  return {
    id: `e${++counter}`,
    chain: 'test',
    trace,
    hop: boundary + 1,
    hop_name: HOP_NAMES[boundary] ?? `hop-${boundary + 1}`,
    boundary,
    direction,
    time: new Date(0).toISOString(),
    method: 'POST',
    scheme: 'https',
    host: 'api.anthropic.com',
    port: 443,
    path: '/v1/messages',
    correlation: 'exact',
    ...fields,
  };
}

export interface BoundaryPlan {
  elapsed: number;
  ttfb?: number;
  status?: number;
  request?: Partial<MoatEvent>;
  response?: Partial<MoatEvent>;
}

/** Request and response events at boundaries 0..n-1, one entry each, outermost first. */
export function exchange(trace: string, boundaries: BoundaryPlan[]): MoatEvent[] {
  return boundaries.flatMap((b, i) => [
    event(trace, i, 'request', b.request),
    event(trace, i, 'response', {
      status: b.status ?? 200,
      elapsed_ms: b.elapsed,
      ttfb_ms: b.ttfb ?? b.elapsed / 2,
      ...b.response,
    }),
  ]);
}

export function gap(boundary: number, dropped: number): MoatEvent {
  return { ...event('', boundary, 'request'), direction: 'gap', gap: dropped };
}

/** An SSE response's stream health: 8 events 50 ms apart with their event: lines and final event, and `fields`. */
export function streamHealth(fields: Partial<StreamHealth> = {}): StreamHealth {
  return {
    events: 8,
    first_event_ms: 10,
    last_event_ms: 360,
    max_gap_ms: 50,
    bunched: 0,
    event_lines: 8,
    final: true,
    sequence: 's',
    content: 'c',
    ...fields,
  };
}
