import { expect } from 'chai';
import {
  AFTER_GRACE_MS,
  TapPairer,
  bodyChanges,
  headerChanges,
  formatTapRecord,
} from '../../../../supervisor/ledger/tap-view';
import type { MoatEvent } from '../../../../schemas/generated/event';
import { streamHealth } from '../../../helpers/synthetic-events';

const ev = (hop: number, direction: 'request' | 'response', extra: Partial<MoatEvent> = {}): MoatEvent => ({
  id: Math.random().toString(16),
  chain: 'c',
  trace: 'T',
  hop,
  hop_name: hop === 2 ? 'headroom' : 'next',
  boundary: hop - 1,
  direction,
  time: '2026-01-01T00:00:00.000Z',
  method: 'POST',
  scheme: 'https',
  host: 'api.anthropic.com',
  path: '/v1/messages',
  correlation: 'exact',
  ...extra,
});

describe('tap view (no sockets)', () => {
  it('pairs a hop’s before and after by trace and reports what it changed', () => {
    const pairer = new TapPairer(2);
    const before = { 'content-type': 'application/json', 'x-a': '1', 'x-gone': '1', authorization: '[REDACTED]' };
    const after = { 'content-type': 'application/json', 'x-a': '2', 'x-new': '1', authorization: '[REDACTED]' };
    expect(
      pairer.add(
        ev(2, 'request', {
          headers: before,
          body_size: 100,
          body: JSON.stringify({ model: 'a', messages: new Array(48).fill({}) }),
        }),
      ),
    ).to.equal(undefined);
    expect(
      pairer.add(
        ev(3, 'request', {
          headers: after,
          body_size: 40,
          body: JSON.stringify({ model: 'b', messages: new Array(12).fill({}) }),
        }),
      ),
    ).to.equal(undefined);
    expect(pairer.add(ev(3, 'response', { status: 200, elapsed_ms: 10, body_size: 5, headers: {} }))).to.equal(
      undefined,
    );
    const r = pairer.add(
      ev(2, 'response', { status: 200, elapsed_ms: 13.5, body_size: 5, headers: { 'x-added-back': '1' } }),
    )!;
    expect(r.latencyMs).to.equal(3.5);
    expect(r.requestHeaders).to.deep.equal({ added: ['x-new'], removed: ['x-gone'], changed: ['x-a'] });
    expect(r.responseHeaders.added).to.deep.equal(['x-added-back']);
    expect(r.requestBody).to.deep.equal(['model: "a" -> "b"', 'messages: 48 -> 12 items']);
    expect(r.requestBytes).to.deep.equal({ before: 100, after: 40 });
    const text = formatTapRecord(r);
    expect(text).to.contain('status 200 -> 200   latency added 3.50 ms');
    expect(text).to.contain('request headers +x-new -x-gone ~x-a');
    expect(text).to.contain('request body messages: 48 -> 12 items');
  });

  it('shows a request the hop answered itself (a deny) without an after', () => {
    const pairer = new TapPairer(2);
    pairer.add(ev(2, 'request', { decision: 'deny', rule: 'rules[0]' }));
    const r = pairer.add(
      ev(2, 'response', { status: 403, elapsed_ms: 1, decision: 'deny', rule: 'rules[0]', reason: 'no' }),
    )!;
    expect(r.status).to.deep.equal({ before: 403, after: undefined });
    expect(formatTapRecord(r)).to.contain('answered by hop 2 (headroom): 403 deny rule rules[0]: no');
  });

  it('waits for the after side when the hop forwarded, and shows the record without it after the grace time', () => {
    const pairer = new TapPairer(2);
    pairer.add(ev(2, 'request'), 1000);
    expect(pairer.add(ev(2, 'response', { status: 200, elapsed_ms: 5 }), 1000)).to.equal(undefined);
    expect(pairer.flush(1000 + AFTER_GRACE_MS - 1)).to.deep.equal([]);
    const late = pairer.flush(1000 + AFTER_GRACE_MS);
    expect(late).to.have.length(1);
    expect(late[0].status).to.deep.equal({ before: 200, after: undefined });
    expect(pairer.flush(99_999)).to.deep.equal([]);
  });

  it('pairs a before side that arrived ahead of the after side', () => {
    const pairer = new TapPairer(2);
    pairer.add(ev(2, 'request'), 0);
    pairer.add(ev(2, 'response', { status: 200, elapsed_ms: 5 }), 0);
    pairer.add(ev(3, 'request'), 10);
    const r = pairer.add(ev(3, 'response', { status: 201, elapsed_ms: 3 }), 20)!;
    expect(r.status).to.deep.equal({ before: 200, after: 201 });
    expect(r.latencyMs).to.equal(2);
    expect(pairer.flush(99_999)).to.deep.equal([]);
  });

  it('ignores other hops and gap records', () => {
    const pairer = new TapPairer(2);
    expect(pairer.add(ev(1, 'request'))).to.equal(undefined);
    expect(pairer.add(ev(2, 'request', { direction: 'gap' } as any))).to.equal(undefined);
  });

  it('diffs bodies that are not JSON by size, and ignores transport headers', () => {
    expect(bodyChanges('abc', 'abcdef')).to.deep.equal(['body: 3 -> 6 characters']);
    expect(bodyChanges('{"a":1}', '{"a":1}')).to.deep.equal([]);
    expect(headerChanges({ 'content-length': '1', connection: 'x' }, { 'content-length': '2' })).to.deep.equal({
      added: [],
      removed: [],
      changed: [],
    });
  });

  it('marks a hop that changed the cacheable prefix, and says what it did to an SSE stream', () => {
    const health = streamHealth;
    const pairer = new TapPairer(2);
    pairer.add(ev(2, 'request', { provider: { adapter: 'anthropic-messages', cache_prefix: 'aaaa' } }));
    pairer.add(ev(3, 'request', { provider: { adapter: 'anthropic-messages', cache_prefix: 'bbbb' } }));
    pairer.add(ev(3, 'response', { status: 200, elapsed_ms: 370, stream: health({}) }));
    const record = pairer.add(
      ev(2, 'response', {
        status: 200,
        elapsed_ms: 380,
        stream: health({ first_event_ms: 372, last_event_ms: 373, max_gap_ms: 0.1, bunched: 7, event_lines: 0 }),
      }),
    )!;
    expect(record.cache_prefix_changed).to.equal(true);
    expect(record.stream).to.deep.equal({
      events: { in: 8, out: 8 },
      addedFirstMs: 362,
      largestGapMs: { in: 50, out: 0.1 },
      buffered: { heldMs: 349 },
      changes: ['event: lines lost (8 -> 0)'],
    });
    const text = formatTapRecord(record);
    expect(text).to.contain('cache_prefix_changed');
    expect(text).to.contain('stream events 8 -> 8   first token +362.0 ms   largest gap 50.0 -> 0.1 ms');
    expect(text).to.contain('stream buffered: events held 349.0 ms and sent together');
    expect(text).to.contain('stream changed: event: lines lost (8 -> 0)');
  });
});
