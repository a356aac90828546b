// What `moat chain events` marks (no sockets): the event in front of the hop that changed the cacheable prefix, held
// an SSE stream back or changed it; nothing when a side is missing or nothing changed.
import { expect } from 'chai';
import { eventMarks } from '../../../../supervisor/ledger/event-marks';
import { exchange, streamHealth } from '../../../helpers/synthetic-events';
import type { StreamHealth } from '../../../../hops/providers/sse-watch';

const stream = (fields: Partial<StreamHealth>) => ({ stream: streamHealth(fields) });

describe('events marks (no sockets)', () => {
  it('marks the hop that changed the prefix (request) and the hops that buffered or changed the stream (response)', () => {
    const events = exchange('t', [
      // boundary 0, in front of hop 1: it got the events together at the end
      {
        elapsed: 400,
        request: { provider: { cache_prefix: 'a' } },
        response: stream({ first_event_ms: 380, last_event_ms: 381, max_gap_ms: 0.2, bunched: 7, event_lines: 0 }),
      },
      // boundary 1, in front of hop 2: its event: lines were gone
      {
        elapsed: 399,
        request: { provider: { cache_prefix: 'b' } },
        response: stream({ event_lines: 0, sequence: 's', content: 'c' }),
      },
      { elapsed: 398, request: { provider: { cache_prefix: 'b' } }, response: stream({}) },
    ]);
    const marks = eventMarks(events);
    const named = events.filter((e) => marks.has(e.id)).map((e) => `${e.boundary}:${e.direction}:${marks.get(e.id)}`);
    expect(named).to.deep.equal([
      '0:request:cache_prefix_changed',
      '0:response:stream_buffered',
      '1:response:stream_changed',
    ]);
  });

  it('nothing when the next boundary is not among the events, or nothing changed', () => {
    const events = exchange('t', [
      { elapsed: 10, request: { provider: { cache_prefix: 'a' } }, response: stream({}) },
      { elapsed: 9, request: { provider: { cache_prefix: 'a' } }, response: stream({}) },
    ]);
    expect(eventMarks(events).size).to.equal(0);
    expect(eventMarks(events.slice(0, 2)).size).to.equal(0);
  });
});
