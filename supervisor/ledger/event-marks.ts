// What `moat chain events` marks on an event: the hop it leads into changed the request's cacheable prefix
// (cache_prefix_changed), held an SSE stream back (stream_buffered) or changed it (stream_changed). A hop's two
// boundaries are recorded by two processes, so the marks are worked out when the events are read. Pure.
import type { MoatEvent } from '../../schemas/generated/event';
import { prefixChanged } from '../../hops/providers/cache-prefix';
import { hopStream, streamOf } from '../../hops/providers/stream-health';

export type EventMark = 'cache_prefix_changed' | 'stream_buffered' | 'stream_changed';

/**
 * Marks by event id. The mark goes on the event of the boundary in front of the hop (its `hop` is the hop that did
 * it): the request event for the prefix, the response event for the stream. A side without its other boundary among
 * `events` gets none (filter by trace, not by hop, to see them).
 */
export function eventMarks(events: readonly MoatEvent[]): Map<string, EventMark[]> {
  const at = new Map<string, MoatEvent>();
  for (const e of events)
    if (e.trace && (e.direction === 'request' || e.direction === 'response'))
      at.set(`${e.trace}:${e.boundary}:${e.direction}`, e);
  const marks = new Map<string, EventMark[]>();
  const mark = (e: MoatEvent, m: EventMark) => marks.set(e.id, [...(marks.get(e.id) ?? []), m]);
  for (const e of at.values()) {
    const next = at.get(`${e.trace}:${e.boundary + 1}:${e.direction}`);
    if (!next) continue;
    if (e.direction === 'request' && prefixChanged(e.provider, next.provider)) mark(e, 'cache_prefix_changed');
    const input = streamOf(next);
    const output = streamOf(e);
    if (e.direction !== 'response' || !input || !output) continue;
    const s = hopStream(input, output);
    if (s.buffered) mark(e, 'stream_buffered');
    if (s.changes.length) mark(e, 'stream_changed');
  }
  return marks;
}
