// Stream health (no sockets): the SSE watch counts and times events however the bytes are cut into chunks, and the
// comparison of a hop's two boundaries names buffering, dropped and reordered events, lost `event:` lines and a
// missing final event.
import { expect } from 'chai';
import { SseWatch, type StreamHealth } from '../../../../hops/providers/sse-watch';
import { hopStream } from '../../../../hops/providers/stream-health';

const ev = (name: string | undefined, data: string) => `${name ? `event: ${name}\n` : ''}data: ${data}\n\n`;
const MESSAGES = [
  ev('message_start', '{"type":"message_start"}'),
  ev('content_block_delta', '{"type":"content_block_delta","delta":{"text":"Hi"}}'),
  ev('content_block_delta', '{"type":"content_block_delta","delta":{"text":" there"}}'),
  ev('message_stop', '{"type":"message_stop"}'),
];

/** Feeds `parts` at the given times (ms after the origin 0). */
function watch(parts: [number, string][]): StreamHealth {
  const w = new SseWatch(0);
  for (const [t, text] of parts) w.push(Buffer.from(text), t);
  return w.health();
}

const spread = (events: string[], start: number, every: number): [number, string][] =>
  events.map((e, i) => [start + i * every, e]);

describe('SSE watch (no sockets)', () => {
  it('counts and times events, their event: lines and the final one', () => {
    const h = watch(spread(MESSAGES, 100, 50));
    expect(h).to.include({
      events: 4,
      first_event_ms: 100,
      last_event_ms: 250,
      max_gap_ms: 50,
      bunched: 0,
      event_lines: 4,
      final: true,
    });
  });

  it('the same digests and counts whatever the chunking (byte by byte, CRLF, one chunk)', () => {
    const text = MESSAGES.join('');
    const whole = watch([[0, text]]);
    const bytes = watch([...text].map((c): [number, string] => [0, c]));
    const crlf = watch([[0, text.replace(/\n/g, '\r\n')]]);
    const crlfBytes = watch([...text.replace(/\n/g, '\r\n')].map((c): [number, string] => [0, c]));
    for (const h of [bytes, crlf, crlfBytes]) {
      expect(h.sequence).to.equal(whole.sequence);
      expect(h.content).to.equal(whole.content);
      expect(h.events).to.equal(4);
      expect(h.event_lines).to.equal(4);
      expect(h.final).to.equal(true);
    }
    expect(whole.bunched).to.equal(3);
  });

  it('OpenAI chat: data: [DONE] is the final event; a stream cut before it is not final', () => {
    const done = watch([[0, ev(undefined, '{"a":1}') + ev(undefined, '[DONE]')]]);
    expect(done).to.include({ events: 2, final: true, event_lines: 0 });
    const cut = watch([[0, ev(undefined, '{"a":1}') + 'data: [DO']]);
    expect(cut).to.include({ events: 1, final: false });
  });

  it('OpenAI responses: response.completed is the final event, by name or by its data', () => {
    expect(watch([[0, ev('response.completed', '{"type":"response.completed","response":{}}')]]).final).to.equal(true);
    expect(watch([[0, ev(undefined, '{"type":"response.completed","response":{}}')]]).final).to.equal(true);
  });

  it('comments, id: and retry: lines are not events; multi-line data is one event', () => {
    const h = watch([[0, ': keep-alive\n\nid: 1\nretry: 10\ndata: a\ndata: b\n\n']]);
    expect(h.events).to.equal(1);
    const joined = watch([[0, 'data: a\ndata: b\n\n']]);
    const other = watch([[0, 'data: a\n\ndata: b\n\n']]);
    expect(h.sequence).to.equal(joined.sequence);
    expect(joined.sequence).to.not.equal(other.sequence);
  });
});

describe('what a hop did to a stream (no sockets)', () => {
  const input = watch(spread(MESSAGES, 100, 50));

  it('a hop that passes the stream on: no flag, the delay it added to the first event', () => {
    const s = hopStream(input, watch(spread(MESSAGES, 103, 50)));
    expect(s).to.deep.equal({
      events: { in: 4, out: 4 },
      addedFirstMs: 3,
      largestGapMs: { in: 50, out: 50 },
      changes: [],
    });
  });

  it('a uniformly slow hop is latency, not buffering', () => {
    expect(hopStream(input, watch(spread(MESSAGES, 300, 50))).buffered).to.equal(undefined);
  });

  it('a hop that holds every event and sends them together at the end buffers', () => {
    const s = hopStream(input, watch([[252, MESSAGES.join('')]]));
    expect(s.buffered).to.deep.equal({ heldMs: 150 });
    expect(s.addedFirstMs).to.equal(152);
    expect(s.changes).to.deep.equal([]);
  });

  it('a hop that holds events in the middle of a stream buffers (a pause its upstream did not have, then a burst)', () => {
    const slow = [...MESSAGES, ...MESSAGES, ...MESSAGES];
    const upstream = watch(spread(slow, 0, 100)); // 12 events over 1.1 s
    const held: [number, string][] = [
      ...spread(slow.slice(0, 4), 0, 100),
      [900, slow.slice(4, 10).join('')],
      ...spread(slow.slice(10), 1000, 100),
    ];
    expect(hopStream(upstream, watch(held)).buffered?.heldMs).to.equal(500);
  });

  const table: [string, string[], string[]][] = [
    ['dropped', MESSAGES.slice(1), ['1 event(s) dropped']],
    ['reordered', [MESSAGES[0], MESSAGES[2], MESSAGES[1], MESSAGES[3]], ['events reordered']],
    ['rewritten', [MESSAGES[0], MESSAGES[1].replace('Hi', 'Ho'), MESSAGES[2], MESSAGES[3]], ['events rewritten']],
    ['event: lines lost', MESSAGES.map((e) => e.replace(/^event: .*\n/, '')), ['event: lines lost (4 -> 0)']],
    ['final event lost', MESSAGES.slice(0, 3), ['1 event(s) dropped', 'stream ended without its final event']],
  ];
  for (const [name, out, changes] of table) {
    it(`${name}: says so, with the counts before and after`, () => {
      const s = hopStream(input, watch(spread(out, 100, 50)));
      expect(s.changes).to.deep.equal(changes);
      expect(s.events).to.deep.equal({ in: 4, out: out.length });
    });
  }
});
