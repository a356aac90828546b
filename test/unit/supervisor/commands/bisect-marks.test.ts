// bisect and the chain's marks (no sockets): a replay without a hop changes the outcome when a mark of the baseline
// (cache_prefix_changed, stream_buffered, stream_changed at a hop) is gone from it or a new one appears; marks that
// already differ between the recorded trace and the baseline (timing) do not count. A stream is compared by its events.
import { expect } from 'chai';
import {
  formatBisect,
  noisyMarks,
  outcomeChange,
  traceMarks,
  type OutcomeChange,
} from '../../../../supervisor/commands/bisect';
import {
  boundariesOf,
  eventsComplete,
  eventsSettled,
  marksLine,
  type ReplayedResponse,
} from '../../../../supervisor/commands/replay';
import { exchange, streamHealth } from '../../../helpers/synthetic-events';

const json = (body: unknown): ReplayedResponse => ({ status: 200, headers: {}, body: JSON.stringify(body) });
const sse = (body: string): ReplayedResponse => ({
  status: 200,
  headers: { 'content-type': 'text/event-stream; charset=utf-8' },
  body,
});

describe('bisect: marks as part of the outcome', () => {
  const same = json({ ok: true });
  const rows: [string, string[], string[], string[], OutcomeChange['marks'] | 'same'][] = [
    ['no marks either side', [], [], [], 'same'],
    ['the same marks', ['stream_buffered at hop 2'], ['stream_buffered at hop 2'], [], 'same'],
    [
      'the prefix mark gone',
      ['cache_prefix_changed at hop 1'],
      [],
      [],
      { gone: ['cache_prefix_changed at hop 1'], appeared: [] },
    ],
    [
      'the stream mark gone, another kept',
      ['cache_prefix_changed at hop 1', 'stream_changed at hop 3'],
      ['cache_prefix_changed at hop 1'],
      [],
      { gone: ['stream_changed at hop 3'], appeared: [] },
    ],
    ['a mark appears', [], ['stream_buffered at hop 4'], [], { gone: [], appeared: ['stream_buffered at hop 4'] }],
    [
      'a mark moves to another hop',
      ['stream_changed at hop 3'],
      ['stream_changed at hop 2'],
      [],
      { gone: ['stream_changed at hop 3'], appeared: ['stream_changed at hop 2'] },
    ],
    ['a noisy mark gone', ['stream_buffered at hop 4'], [], ['stream_buffered at hop 4'], 'same'],
    ['a noisy mark appears', [], ['stream_buffered at hop 4'], ['stream_buffered at hop 4'], 'same'],
  ];
  for (const [what, baseline, replayed, noisy, verdict] of rows)
    it(`${what}: ${verdict === 'same' ? 'same' : 'changed'}`, () => {
      const change = outcomeChange(same, same, new Set(), { baseline, replayed, noisy: new Set(noisy) });
      if (verdict === 'same') expect(change).to.equal(undefined);
      else expect(change).to.deep.equal({ body: [], marks: verdict });
    });

  it('noise: the marks that differ between the recorded trace and the baseline, either way', () => {
    const noise = noisyMarks(['a at hop 1', 'b at hop 2'], ['b at hop 2', 'c at hop 3']);
    expect([...noise].sort()).to.deep.equal(['a at hop 1', 'c at hop 3']);
  });

  it('a trace’s marks name the hop that did it, each once', () => {
    const stream = (fields = {}) => ({ stream: streamHealth(fields) });
    const events = exchange('t', [
      // hop 1 (between boundaries 0 and 1) changed the prefix
      { elapsed: 400, request: { provider: { cache_prefix: 'a' } }, response: stream({ event_lines: 0 }) },
      // hop 2 (between boundaries 1 and 2) sent its client the events without their event: lines
      { elapsed: 399, request: { provider: { cache_prefix: 'b' } }, response: stream({ event_lines: 0 }) },
      { elapsed: 398, request: { provider: { cache_prefix: 'b' } }, response: stream() },
    ]).map((e) => ({ ...e, hop: e.boundary + 1 }));
    expect(traceMarks(events)).to.deep.equal(['cache_prefix_changed at hop 1', 'stream_changed at hop 2']);
    expect(traceMarks([])).to.deep.equal([]);
  });

  it('streams are compared by their events: the same events in other chunks are the same, lost event: lines are not', () => {
    const a = sse('event: ping\ndata: {"type":"ping"}\n\nevent: stop\ndata: {"type":"stop"}\n\n');
    const rechunked = sse(
      'event: ping\r\ndata: {"type":"ping"}\r\n\r\n: comment\n\nevent: stop\ndata: {"type":"stop"}',
    );
    expect(outcomeChange(a, rechunked, new Set())).to.equal(undefined);
    const lost = sse('data: {"type":"ping"}\n\ndata: {"type":"stop"}\n\n');
    expect(outcomeChange(a, lost, new Set())!.body).to.deep.equal(['-events[0].event', '-events[1].event']);
    const other = sse('event: ping\ndata: {"type":"pong"}\n\nevent: stop\ndata: {"type":"stop"}\n\n');
    expect(outcomeChange(a, other, new Set())!.body).to.deep.equal(['events[0].data.type: "ping" -> "pong"']);
    // A field that varies anyway (the message id) is left out.
    expect(outcomeChange(a, other, new Set(['events[0].data.type']))).to.equal(undefined);
  });

  it('the report says which mark, and what the baseline had', () => {
    const text = formatBisect({
      trace: 't',
      baseline: { replay_trace: 'r0', status: 200, marks: ['stream_changed at hop 2'] },
      warnings: ['the ledger did not hold every event of replay r1 in time: its marks may be missing'],
      hops: [
        {
          hop: 1,
          name: 'dropping',
          skippable: true,
          skipped: true,
          replay_trace: 'r1',
          change: { body: [], marks: { gone: ['stream_changed at hop 2'], appeared: ['stream_buffered at hop 3'] } },
        },
      ],
      culprits: [1],
    });
    expect(text).to.contain('status 200, marks stream_changed at hop 2');
    expect(text).to.contain(
      'hop 1 (dropping): without it the outcome changes: mark stream_changed at hop 2 gone, stream_buffered at hop 3 appeared',
    );
    expect(text).to.contain('warning: the ledger did not hold every event of replay r1');
  });

  it('a replay’s events are complete once every boundary of the recorded trace has its request and response', () => {
    const recorded = exchange('t', [{ elapsed: 3 }, { elapsed: 2 }, { elapsed: 1 }]);
    expect(boundariesOf(recorded)).to.deep.equal([0, 1, 2]);
    const replay = exchange('r', [{ elapsed: 3 }, { elapsed: 2 }, { elapsed: 1 }]);
    expect(eventsComplete(replay, [0, 1, 2])).to.equal(true);
    const late = replay.filter((e) => !(e.boundary === 1 && e.direction === 'response'));
    expect(eventsComplete(late, [0, 1, 2])).to.equal(false);
    expect(eventsComplete([], [0])).to.equal(false);
  });

  it('a replay that stopped early (denied at boundary 1) looks whole once each boundary it reached has both sides', () => {
    const denied = exchange('r', [{ elapsed: 3 }, { elapsed: 2 }]);
    expect(eventsComplete(denied, [0, 1, 2])).to.equal(false);
    expect(eventsSettled(denied, 0)).to.equal(true);
    // a request without its response yet, the first boundary missing, or a hole: not yet
    expect(eventsSettled(denied.slice(0, 3), 0)).to.equal(false);
    expect(eventsSettled(denied.slice(2), 0)).to.equal(false);
    expect(
      eventsSettled(
        [...denied.slice(0, 2), ...exchange('r', [{ elapsed: 3 }, { elapsed: 2 }, { elapsed: 1 }]).slice(4)],
        0,
      ),
    ).to.equal(false);
    expect(eventsSettled([], 0)).to.equal(false);
  });

  it('replay lists the marks gone (-) and new (+) against the recorded trace', () => {
    expect(marksLine(['stream_changed at hop 3'], [])).to.equal('-stream_changed at hop 3');
    expect(marksLine(['a at hop 1'], ['b at hop 2'])).to.equal('-a at hop 1, +b at hop 2');
    expect(marksLine(['a at hop 1'], ['a at hop 1'])).to.equal('(same: a at hop 1)');
    expect(marksLine([], [])).to.equal('(none)');
  });
});
