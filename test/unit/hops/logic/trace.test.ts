import { expect } from 'chai';
import { timeOrderedId, traceFor } from '../../../../hops/logic/trace';

describe('trace ids (no sockets)', () => {
  it('mints a W3C trace id that starts with the time in milliseconds', () => {
    const now = Date.UTC(2026, 11, 5, 20, 0, 0, 123);
    const id = timeOrderedId(now);
    expect(id).to.match(/^[0-9a-f]{32}$/);
    expect(parseInt(id.slice(0, 12), 16)).to.equal(now);
  });

  it('orders ids by time, and two ids of the same millisecond differ', () => {
    const earlier = timeOrderedId(1_000_000);
    const later = timeOrderedId(1_000_001);
    expect(earlier < later).to.equal(true);
    const same = new Set(Array.from({ length: 1000 }, () => timeOrderedId(5)));
    expect(same.size).to.equal(1000);
  });

  it('gives a request without traceparent a time-ordered trace, in both headers', () => {
    const before = Date.now();
    const { trace, set } = traceFor({});
    expect(parseInt(trace.slice(0, 12), 16)).to.be.within(before, Date.now());
    expect(set['x-moat-trace']).to.equal(trace);
    expect(set.traceparent).to.match(new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
  });

  it("keeps the agent's own traceparent", () => {
    const theirs = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { trace, set } = traceFor({ traceparent: `00-${theirs}-00f067aa0ba902b7-01` });
    expect(trace).to.equal(theirs);
    expect(set).to.deep.equal({ 'x-moat-trace': theirs });
  });
});
