// When a trace is finished, and what the aggregator keeps meanwhile (pure: the test passes
// the time). Chain: [moat-telemetry, moat-policy] + egress, last boundary 2.
import { expect } from 'chai';
import type { MoatEvent } from '../../../../schemas/generated/event';
import { TraceAggregator, type AggregatorOptions } from '../../../../hops/telemetry/aggregator';
import { event, exchange, gap } from '../../../helpers/synthetic-events';

const make = (o: Partial<AggregatorOptions> = {}) =>
  new TraceAggregator({ lastBoundary: 2, prices: {}, settleMs: 1000, timeoutMs: 60_000, ...o });
const full = (trace: string) => exchange(trace, [{ elapsed: 9 }, { elapsed: 6 }, { elapsed: 3 }]);
const feed = (a: TraceAggregator, events: MoatEvent[], now = 0) => events.forEach((e) => a.add(e, now));
const ids = (a: TraceAggregator, now: number) => a.drain(now).traces.map((t) => t.trace);
/** Outermost response last, as it happens: inner boundaries finish first. */
const innerFirst = (events: MoatEvent[]) =>
  [...events].sort((x, y) =>
    x.direction === y.direction ? y.boundary - x.boundary : x.direction === 'request' ? -1 : 1,
  );

describe('metrics aggregator: when a trace is finished, bounded state (no sockets, no clock)', () => {
  const ORDER_CASES: { name: string; events: MoatEvent[]; at: number; done: boolean; complete?: boolean }[] = [
    {
      name: 'every boundary answered, inner ones first: finished at once',
      events: innerFirst(full('a')),
      at: 0,
      done: true,
      complete: true,
    },
    {
      name: 'boundary 0 answered first, an inner response not yet in: waits',
      events: full('a').filter((e) => !(e.boundary === 2 && e.direction === 'response')),
      at: 999,
      done: false,
    },
    {
      name: '... and is summarized, incomplete, once settleMs has passed',
      events: full('a').filter((e) => !(e.boundary === 2 && e.direction === 'response')),
      at: 1000,
      done: true,
      complete: false,
    },
    {
      name: "boundary 0 answered, egress's events not in yet (nothing says they are coming): waits",
      events: full('a').filter((e) => e.boundary < 2),
      at: 500,
      done: false,
    },
    {
      name: 'denied at hop 2: nothing beyond boundary 1 will come, finished at once',
      events: exchange('a', [
        { elapsed: 2, status: 403 },
        { elapsed: 1, status: 403, response: { decision: 'deny', error: 'policy_denied' } },
      ]),
      at: 0,
      done: true,
      complete: true,
    },
    {
      name: 'no answer to the agent yet: waits (within the timeout)',
      events: full('a').filter((e) => e.boundary > 0),
      at: 59_999,
      done: false,
    },
  ];
  for (const c of ORDER_CASES) {
    it(c.name, () => {
      const a = make();
      feed(a, c.events);
      const out = a.drain(c.at);
      expect(out.traces.map((t) => t.trace)).to.deep.equal(c.done ? ['a'] : []);
      if (c.complete !== undefined) expect(out.traces[0].complete).to.equal(c.complete);
      expect(a.pendingCount).to.equal(c.done ? 0 : 1);
    });
  }

  it('inner events arriving within settleMs complete the trace', () => {
    const a = make();
    const events = full('a');
    feed(
      a,
      events.filter((e) => e.boundary === 0),
      0,
    );
    expect(ids(a, 100)).to.deep.equal([]);
    feed(
      a,
      events.filter((e) => e.boundary > 0),
      200,
    );
    const out = a.drain(200);
    expect(out.traces.map((t) => [t.trace, t.complete, t.hops.length])).to.deep.equal([['a', true, 2]]);
  });

  it('a redelivered event changes nothing; a late event after the summary opens no new trace', () => {
    const a = make();
    const events = innerFirst(full('a'));
    feed(a, [...events, events[events.length - 1]]);
    expect(ids(a, 0)).to.deep.equal(['a']);
    a.add(event('a', 2, 'response', { elapsed_ms: 3 }), 10);
    expect(a.pendingCount).to.equal(0);
    expect(a.drain(10_000_000)).to.deep.equal({ traces: [], dropped: { timeout: 0, capacity: 0 }, gaps: [] });
  });

  it('a trace that never gets its answer is dropped after timeoutMs and counted', () => {
    const a = make();
    feed(a, [event('old', 0, 'request')], 0);
    feed(a, [event('young', 0, 'request')], 30_000);
    expect(a.drain(60_000).dropped).to.deep.equal({ timeout: 1, capacity: 0 });
    expect(a.pendingCount).to.equal(1);
    expect(a.drain(90_000).dropped.timeout).to.equal(1);
    expect(a.pendingCount).to.equal(0);
  });

  it('at most maxTraces unfinished: the oldest gives way (summarized if it was answered, else counted)', () => {
    const a = make({ maxTraces: 2 });
    feed(a, [event('t1', 0, 'request')], 0);
    feed(
      a,
      full('t2').filter((e) => e.boundary === 0),
      1,
    );
    feed(a, [event('t3', 0, 'request')], 2);
    feed(a, [event('t4', 0, 'request')], 3);
    const out = a.drain(4);
    expect(out.dropped).to.deep.equal({ timeout: 0, capacity: 1 });
    expect(out.traces.map((t) => t.trace)).to.deep.equal(['t2']);
    expect(a.pendingCount).to.equal(2);
  });

  it('remembers a bounded number of finished traces', () => {
    const a = make({ rememberFinished: 1 });
    feed(a, innerFirst(full('x')));
    feed(a, innerFirst(full('y')));
    expect(ids(a, 0)).to.deep.equal(['x', 'y']);
    // x is forgotten: a late event of it opens a trace again (which then times out); y is still remembered.
    a.add(event('y', 2, 'response'), 1);
    expect(a.pendingCount).to.equal(0);
    a.add(event('x', 2, 'response'), 1);
    expect(a.pendingCount).to.equal(1);
  });

  it('flush() summarizes answered traces without waiting, and leaves unanswered ones', () => {
    const a = make();
    feed(
      a,
      full('a').filter((e) => e.boundary === 0),
    );
    feed(a, [event('b', 0, 'request')]);
    expect(a.flush().traces.map((t) => [t.trace, t.complete])).to.deep.equal([['a', false]]);
    expect(a.pendingCount).to.equal(1);
  });

  it('gap records are passed on; other non-events are ignored', () => {
    const a = make();
    a.add(gap(1, 7), 0);
    a.add({ nonsense: true } as any, 0);
    a.add(null as any, 0);
    expect(a.drain(0)).to.deep.equal({
      traces: [],
      dropped: { timeout: 0, capacity: 0 },
      gaps: [{ hop: 2, hopName: 'moat-policy', dropped: 7 }],
    });
    expect(a.pendingCount).to.equal(0);
  });
});
