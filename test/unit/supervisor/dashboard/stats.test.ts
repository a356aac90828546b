// The dashboard's pure parts: request rows, filters, per-hop statistics, the trace view's per-hop
// diff, and the request book. Events are made up here; no sockets, no NATS, no ledger.
import { expect } from 'chai';
import type { MoatEvent } from '../../../../schemas/generated/event';
import {
  requestRow,
  matchesRequest,
  matchesEvent,
  hopStats,
  percentile,
  denials,
  type HopRef,
} from '../../../../supervisor/dashboard/stats';
import { traceView, headerDiff } from '../../../../supervisor/dashboard/trace-view';
import { RequestBook } from '../../../../supervisor/dashboard/request-book';

const HOPS: HopRef[] = [
  { hop: 1, name: 'moat-telemetry' },
  { hop: 2, name: 'rewriter' },
  { hop: 3, name: 'moat-policy' },
  { hop: 4, name: 'egress' },
];
let n = 0;
const ev = (
  trace: string,
  hop: number,
  direction: 'request' | 'response',
  extra: Partial<MoatEvent> = {},
): MoatEvent => ({
  id: `e${++n}`,
  chain: 'c',
  trace,
  hop,
  hop_name: HOPS[hop - 1].name,
  boundary: hop - 1,
  direction,
  time: `2026-01-01T00:00:0${hop}.000Z`,
  method: 'POST',
  scheme: 'https',
  host: 'api.anthropic.com',
  path: '/v1/messages',
  correlation: 'exact',
  headers: {},
  body_size: 10,
  ...extra,
});

/** A request through every hop; hop 2 adds a header and rewrites the model, and adds one on the way back. */
function passed(trace: string, elapsed = [20, 18, 10, 9]): MoatEvent[] {
  const reqIn = { 'content-type': 'application/json', 'x-moat-trace': trace };
  const reqOut = { ...reqIn, 'x-rewritten-by': 'fixture' };
  return [
    ev(trace, 1, 'request', { headers: reqIn, body: '{"model":"claude-x"}' }),
    ev(trace, 2, 'request', { headers: reqIn, body: '{"model":"claude-x"}' }),
    ev(trace, 3, 'request', {
      headers: reqOut,
      body: '{"model":"rewritten-model"}',
      decision: 'allow',
      rule: 'rules[0]',
    }),
    ev(trace, 4, 'request', { headers: reqOut, body: '{"model":"rewritten-model"}' }),
    ev(trace, 4, 'response', {
      status: 200,
      elapsed_ms: elapsed[3],
      headers: { 'content-type': 'application/json' },
      body: '{"ok":1}',
    }),
    ev(trace, 3, 'response', {
      status: 200,
      elapsed_ms: elapsed[2],
      headers: { 'content-type': 'application/json' },
      body: '{"ok":1}',
      decision: 'allow',
      rule: 'rules[0]',
    }),
    ev(trace, 2, 'response', {
      status: 200,
      elapsed_ms: elapsed[1],
      headers: { 'content-type': 'application/json', 'x-fixture-response': '1' },
      body: '{"ok":1,"rewritten":true}',
    }),
    ev(trace, 1, 'response', {
      status: 200,
      elapsed_ms: elapsed[0],
      headers: { 'content-type': 'application/json', 'x-fixture-response': '1' },
      body: '{"ok":1,"rewritten":true}',
    }),
  ];
}

/** Denied by moat-policy (hop 3): nothing reaches egress. */
function denied(trace: string): MoatEvent[] {
  const deny = { decision: 'deny', rule: 'no-evil', reason: 'evil.example is blocked' };
  return [
    ev(trace, 1, 'request', { host: 'evil.example' }),
    ev(trace, 2, 'request', { host: 'evil.example' }),
    ev(trace, 3, 'request', { host: 'evil.example', ...deny }),
    ev(trace, 3, 'response', { host: 'evil.example', status: 403, elapsed_ms: 0.5, ...deny }),
    ev(trace, 2, 'response', { host: 'evil.example', status: 403, elapsed_ms: 3 }),
    ev(trace, 1, 'response', { host: 'evil.example', status: 403, elapsed_ms: 3.5 }),
  ];
}

/** Hop 2 is down: the link in front of it answers 502. */
function failed(trace: string): MoatEvent[] {
  return [
    ev(trace, 1, 'request'),
    ev(trace, 2, 'request'),
    ev(trace, 2, 'response', { status: 502, elapsed_ms: 1, error: 'hop_unavailable' }),
    ev(trace, 1, 'response', { status: 502, elapsed_ms: 1.25 }),
  ];
}

describe('dashboard: requests, statistics and traces (no sockets)', () => {
  it('a request row says what the agent got, the most telling decision, and who answered', () => {
    const ok = requestRow(passed('A').reverse()); // arrival order does not matter
    expect(ok).to.deep.include({
      trace: 'A',
      method: 'POST',
      host: 'api.anthropic.com',
      path: '/v1/messages',
      status: 200,
      elapsed_ms: 20,
      decision: 'allow',
      done: true,
    });
    expect(ok.hops).to.deep.equal([1, 2, 3, 4]);
    expect(ok.answered_by).to.equal(undefined);
    expect(ok.time).to.equal('2026-01-01T00:00:01.000Z');

    const no = requestRow(denied('B'));
    expect(no).to.deep.include({ status: 403, decision: 'deny', rule: 'no-evil', reason: 'evil.example is blocked' });
    expect(no.decision_hop).to.deep.equal({ hop: 3, name: 'moat-policy' });
    expect(no.answered_by).to.deep.equal({ hop: 3, name: 'moat-policy' });
    expect(no.hops).to.deep.equal([1, 2, 3]);

    const down = requestRow(failed('C'));
    expect(down).to.deep.include({ status: 502, error: 'hop_unavailable' });
    expect(down.answered_by).to.deep.equal({ hop: 2, name: 'rewriter' });

    const inFlight = requestRow(passed('D').slice(0, 4));
    expect(inFlight.done).to.equal(false);
    expect(inFlight.status).to.equal(undefined);
  });

  it('a deny outranks an allow of another hop; report mode shows would_deny', () => {
    const events = [
      ev('E', 1, 'request', { decision: 'allow' }),
      ev('E', 2, 'request', { decision: 'would_deny', rule: 'r' }),
      ev('E', 3, 'request', { decision: 'log' }),
    ];
    expect(requestRow(events)).to.deep.include({ decision: 'would_deny', rule: 'r' });
    expect(requestRow(events).decisions).to.have.members(['allow', 'would_deny', 'log']);
  });

  it('filters: host, a hop the request reached, a decision any hop made; and the same on single events', () => {
    const ok = requestRow(passed('A'));
    const no = requestRow(denied('B'));
    expect([ok, no].filter((r) => matchesRequest(r, { host: 'evil.example' })).map((r) => r.trace)).to.deep.equal([
      'B',
    ]);
    expect([ok, no].filter((r) => matchesRequest(r, { hop: 4 })).map((r) => r.trace)).to.deep.equal(['A']);
    expect([ok, no].filter((r) => matchesRequest(r, { decision: 'deny' })).map((r) => r.trace)).to.deep.equal(['B']);
    expect([ok, no].filter((r) => matchesRequest(r, {})).length).to.equal(2);
    const events = [...passed('A'), ...denied('B')];
    expect(events.filter((e) => matchesEvent(e, { hop: 3, decision: 'deny' }))).to.have.length(2);
    expect(events.filter((e) => matchesEvent(e, { host: 'api.anthropic.com', hop: 1 }))).to.have.length(2);
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([], 50)).to.equal(undefined);
    expect(percentile([5], 50)).to.equal(5);
    expect(percentile([4, 1, 3, 2], 50)).to.equal(2);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).to.equal(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).to.equal(5);
  });

  it("per hop: requests, latency added (its boundary's elapsed minus the next one's), errors and denials", () => {
    const stats = hopStats(
      [
        passed('A', [20, 18, 10, 9]),
        passed('A2', [40, 30, 20, 19]),
        passed('A3', [11, 10, 4, 3]),
        denied('B'),
        failed('C'),
      ],
      HOPS,
    );
    const by = new Map(stats.map((s) => [s.hop, s]));
    // hop 1 added 2, 10, 1 (passed), 0.5 (denied), 0.25 (failed): median 1
    expect(by.get(1)).to.deep.include({
      name: 'moat-telemetry',
      requests: 5,
      responses: 5,
      p50_ms: 1,
      p95_ms: 10,
      errors: 0,
      denials: 0,
    });
    // hop 2 added 8, 10, 6, 2.5; the failed request was answered by its own link (1 ms, no after side)
    expect(by.get(2)).to.deep.include({ requests: 5, responses: 5, errors: 1, error_rate: 0.2, p50_ms: 6 });
    // hop 3 answered the denial itself: all of its 0.5 ms count
    expect(by.get(3)).to.deep.include({ requests: 4, denials: 1, p50_ms: 1 });
    // egress: the destination's time included
    expect(by.get(4)).to.deep.include({ requests: 3, responses: 3, p50_ms: 9, errors: 0, error_rate: 0 });
  });

  it('a request still in flight counts as a request, not a response, and adds no latency', () => {
    const [s1] = hopStats([passed('D').slice(0, 4)], HOPS);
    expect(s1).to.deep.include({ requests: 1, responses: 0, errors: 0 });
    expect(s1.p50_ms).to.equal(undefined);
    expect(s1.error_rate).to.equal(undefined);
  });

  it('denials lists deny and would_deny newest first', () => {
    const rows = [
      requestRow(passed('A')),
      requestRow(denied('B')),
      requestRow([ev('W', 3, 'request', { decision: 'would_deny', rule: 'r', time: '2026-01-02T00:00:00.000Z' })]),
    ];
    const list = denials(rows, 10);
    expect(list.map((d) => [d.trace, d.decision, d.hop?.hop])).to.deep.equal([
      ['W', 'would_deny', 3],
      ['B', 'deny', 3],
    ]);
    expect(list[1]).to.deep.include({
      rule: 'no-evil',
      reason: 'evil.example is blocked',
      status: 403,
      host: 'evil.example',
    });
  });

  it('header diff keeps the values beside the names', () => {
    expect(
      headerDiff({ a: '1', gone: 'x', same: 's', date: 'd1' }, { a: '2', new: 'y', same: 's', date: 'd2' }),
    ).to.deep.equal([
      { name: 'new', change: 'added', after: 'y' },
      { name: 'gone', change: 'removed', before: 'x' },
      { name: 'a', change: 'changed', before: '1', after: '2' },
    ]);
  });

  it("the trace view: every boundary in order, and each hop's changes with tap's record", () => {
    const view = traceView('A', [...passed('A'), ...denied('B')], HOPS)!;
    expect(
      view.boundaries.map((b) => [b.boundary, b.hop, b.hop_name, b.request?.direction, b.response?.status]),
    ).to.deep.equal([
      [0, 1, 'moat-telemetry', 'request', 200],
      [1, 2, 'rewriter', 'request', 200],
      [2, 3, 'moat-policy', 'request', 200],
      [3, 4, 'egress', 'request', 200],
    ]);
    expect(view.hops.map((h) => h.hop)).to.deep.equal([1, 2, 3]);
    const rewriter = view.hops[1];
    expect(rewriter.name).to.equal('rewriter');
    expect(rewriter.request_headers).to.deep.equal([{ name: 'x-rewritten-by', change: 'added', after: 'fixture' }]);
    expect(rewriter.response_headers).to.deep.equal([{ name: 'x-fixture-response', change: 'added', after: '1' }]);
    expect(rewriter.record.requestBody).to.deep.equal(['model: "claude-x" -> "rewritten-model"']);
    expect(rewriter.record.responseBody).to.deep.equal(['+rewritten: true']);
    expect(rewriter.record.latencyMs).to.equal(8);
    expect(view.hops[0].request_headers).to.deep.equal([]);
    expect(view.row.trace).to.equal('A');
  });

  it('the trace view of a denial: the policy hop answered itself, later boundaries absent', () => {
    const view = traceView('B', denied('B'), HOPS)!;
    expect(view.boundaries.map((b) => b.boundary)).to.deep.equal([0, 1, 2]);
    const policy = view.hops.find((h) => h.hop === 3)!;
    expect(policy.record.status).to.deep.equal({ before: 403, after: undefined });
    expect(policy.record).to.deep.include({ decision: 'deny', rule: 'no-evil', reason: 'evil.example is blocked' });
    expect(traceView('nope', denied('B'), HOPS)).to.equal(undefined);
  });

  it('the request book dedupes by id, keeps rows current, counts gaps and forgets the oldest past its capacity', () => {
    const book = new RequestBook(HOPS, 2);
    const a = passed('A');
    for (const e of a.slice(0, 4)) book.add(e);
    expect(book.rows()[0].done).to.equal(false);
    for (const e of a.slice(4)) book.add(e);
    expect(book.add(a[0])).to.equal(undefined); // seen before
    expect(book.has(a[0].id)).to.equal(true);
    expect(book.rows()[0]).to.deep.include({ trace: 'A', done: true, status: 200 });
    // Bodies stay in the ledger; memory keeps their size.
    expect(book.events('A').map((e) => e.body)).to.deep.equal(new Array(8).fill(undefined));
    expect(book.events('A')[0].body_size).to.equal(10);
    expect(book.add({ ...ev('', 2, 'request'), direction: 'gap', gap: 7 })).to.equal(undefined);
    for (const e of denied('B')) book.add(e);
    expect(book.rows({ decision: 'deny' }).map((r) => r.trace)).to.deep.equal(['B']);
    const stats = book.stats();
    expect(stats.totals).to.deep.include({ requests: 2, denials: 1, gap_events_dropped: 7 });
    expect(stats.hops.find((h) => h.hop === 3)!.denials).to.equal(1);
    for (const e of failed('C')) book.add(e);
    expect(
      book
        .rows()
        .map((r) => r.trace)
        .sort(),
    ).to.deep.equal(['B', 'C']);
    expect(book.has(a[0].id)).to.equal(false);
    expect(book.events('A')).to.deep.equal([]);
  });
});
