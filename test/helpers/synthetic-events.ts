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

/**
 * A WebSocket connection at boundaries 0..n-1 (issue 21's event shape): the handshake's request, one frames event
 * each (a client text frame, a server text frame, the client's close), and the close's response event (101).
 * `close` replaces fields of every boundary's `websocket`.
 */
export function websocketTrace(
  trace: string,
  boundaries: number,
  close: Partial<NonNullable<MoatEvent['websocket']>> = {},
  response: Partial<MoatEvent> = {},
): MoatEvent[] {
  const where = { method: 'GET', host: 'api.openai.com', path: '/v1/responses' };
  return [...Array(boundaries).keys()].flatMap((b) => [
    event(trace, b, 'request', { ...where, headers: { upgrade: 'websocket' }, header_names: ['upgrade'] }),
    {
      ...event(trace, b, 'request', where),
      direction: 'frames' as const,
      frames: [
        {
          from: 'client' as const,
          op: 'text' as const,
          size: 31,
          fin: true,
          at_ms: 1.5,
          text: '{"type":"response.create"}',
        },
        { from: 'server' as const, op: 'text' as const, size: 12, fin: true, at_ms: 20.25, text: 'hello client' },
        { from: 'client' as const, op: 'close' as const, size: 2, fin: true, at_ms: 30, close_code: 1000 },
      ],
    },
    event(trace, b, 'response', {
      ...where,
      status: 101,
      elapsed_ms: 31 - b,
      ttfb_ms: 1,
      websocket: {
        closed_by: 'client',
        close_code: 1000,
        bytes_up: 45,
        bytes_down: 14,
        frames_up: 2,
        frames_down: 1,
        ...close,
      },
      ...response,
    }),
  ]);
}
