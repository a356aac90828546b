// replay --skip-hop's ask: only the skip key's holder makes one, for one hop, one trace, a short time, once.
import { expect } from 'chai';
import { checkSkip, skipAsk, SkipLedger, SKIP_VALID_MS, type SkipContext } from '../../../../hops/logic/replay-skip';

const KEY = 'k'.repeat(64);
const TRACE = 'a'.repeat(32);
const NOW = 1_800_000_000_000;
const ctx = (o: Partial<SkipContext> = {}): SkipContext => ({
  hop: 2,
  key: KEY,
  trace: TRACE,
  exact: true,
  now: NOW,
  ...o,
});

describe('replay-skip: the ask to skip a hop', () => {
  const good = skipAsk(KEY, 2, TRACE, NOW);
  const cases: [string, string | string[] | undefined, Partial<SkipContext>, string][] = [
    ['no header', undefined, {}, 'none'],
    ['a good ask for this hop', good, {}, 'skip'],
    ['a good ask, a minute later', good, { now: NOW + 60_000 }, 'skip'],
    ['an ask for another hop passes on', skipAsk(KEY, 3, TRACE, NOW), {}, 'none'],
    ['signed with another key', skipAsk('x'.repeat(64), 2, TRACE, NOW), {}, 'refused'],
    ['for another trace', skipAsk(KEY, 2, 'b'.repeat(32), NOW), {}, 'refused'],
    ['expired', good, { now: NOW + SKIP_VALID_MS + 1 }, 'refused'],
    ['expiring too far ahead', skipAsk(KEY, 2, TRACE, NOW + 10 * SKIP_VALID_MS), {}, 'refused'],
    ['a policy hop (no key) refuses even a signed ask', good, { key: undefined }, 'refused'],
    ['an inferred trace proves nothing', good, { exact: false }, 'refused'],
    ['malformed', '2:abc', {}, 'refused'],
    ['two headers', [good, good], {}, 'refused'],
    ['a forged mac of the right form', `2:${NOW + 1000}:${'0'.repeat(64)}`, {}, 'refused'],
  ];
  for (const [what, value, over, kind] of cases)
    it(`${what}: ${kind}`, () => expect(checkSkip(value, ctx(over)).kind).to.equal(kind));

  it('a policy hop says why', () => {
    const r = checkSkip(good, ctx({ key: undefined, notSkippable: 'hop 2 (moat-policy) is a policy hop' }));
    expect(r).to.deep.equal({ kind: 'refused', reason: 'hop 2 (moat-policy) is a policy hop' });
  });

  it('the ledger takes a trace once, and forgets it once its ask has expired', () => {
    const l = new SkipLedger();
    expect(l.take('t1', NOW)).to.equal(true);
    expect(l.take('t1', NOW + 10)).to.equal(false);
    expect(l.take('t2', NOW + 10)).to.equal(true);
    expect(l.take('t1', NOW + SKIP_VALID_MS + 1)).to.equal(true);
  });

  it('the ledger is bounded', () => {
    const l = new SkipLedger(3);
    for (const t of ['a', 'b', 'c', 'd']) expect(l.take(t, NOW)).to.equal(true);
    expect(l.take('d', NOW)).to.equal(false);
  });
});
