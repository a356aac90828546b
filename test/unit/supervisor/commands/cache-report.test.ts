// `moat chain cache` (no sockets): per hop, the requests whose cacheable prefix it changed and the cost of the cache
// writes that followed against the same tokens as reads, from the innermost usage and prices:.
import { expect } from 'chai';
import { cacheReport, formatCacheReport } from '../../../../supervisor/commands/cache-report';
import { exchange } from '../../../helpers/synthetic-events';
import type { MoatEvent } from '../../../../schemas/generated/event';

const PRICES = { 'claude-*': { input: 3, output: 15 }, 'gpt-*': { input: 2, output: 8, cache_read: 0.5 } };
const req = (hash: string, adapter = 'anthropic-messages') => ({ provider: { adapter, cache_prefix: hash } });
const usage = (fields: Record<string, unknown>) => ({ provider: { model: 'claude-x', ...fields } });

/** A trace through [moat-telemetry, moat-policy] + egress whose prefix is `hashes` at boundaries 0, 1, 2. */
function trace(id: string, hashes: [string, string, string], response: Record<string, unknown>): MoatEvent[] {
  return exchange(
    id,
    hashes.map((h, i) => ({
      elapsed: 10,
      request: req(h, String(response.adapter ?? 'anthropic-messages')),
      ...(i === 2 ? { response: usage(response) } : {}),
    })),
  );
}

describe('moat chain cache (no sockets)', () => {
  it('counts the hop that changed the prefix, with its cache writes priced as writes and as reads', () => {
    const events = [
      ...trace('t1', ['a', 'a', 'b'], { adapter: 'anthropic-messages', cache_creation_input_tokens: 1000 }),
      ...trace('t2', ['a', 'a', 'c'], { adapter: 'anthropic-messages', cache_creation_input_tokens: 3000 }),
      ...trace('t3', ['a', 'a', 'a'], { adapter: 'anthropic-messages', cache_read_input_tokens: 4000 }),
    ];
    const r = cacheReport(events, PRICES);
    expect(r.hops.map((h) => [h.hop, h.hop_name, h.requests, h.prefix_changed])).to.deep.equal([
      [1, 'moat-telemetry', 3, 0],
      [2, 'moat-policy', 3, 2],
    ]);
    const policy = r.hops[1];
    expect(policy.cache_write_tokens).to.equal(4000);
    expect(policy.write_cost).to.be.closeTo((4000 * 3.75) / 1e6, 1e-12); // 1.25 x input
    expect(policy.as_read_cost).to.be.closeTo((4000 * 0.3) / 1e6, 1e-12); // 0.1 x input
    expect(policy.extra_cost).to.be.closeTo((4000 * 3.45) / 1e6, 1e-12);
    expect(formatCacheReport(r)).to.match(/^2 +moat-policy +3 +2 +4000 +0\.015000 +0\.001200 +0\.013800$/m);
  });

  it('OpenAI: the input it did not read from the cache is the write; cache_read from prices: when given', () => {
    const events = trace('t1', ['a', 'b', 'b'], {
      adapter: 'openai-chat',
      model: 'gpt-x',
      input_tokens: 5000,
      cache_read_input_tokens: 1000,
    });
    const hop1 = cacheReport(events, PRICES).hops[0];
    expect(hop1).to.include({ prefix_changed: 1, cache_write_tokens: 4000, cache_read_tokens: 1000 });
    expect(hop1.write_cost).to.be.closeTo((4000 * 2) / 1e6, 1e-12);
    expect(hop1.as_read_cost).to.be.closeTo((4000 * 0.5) / 1e6, 1e-12);
  });

  it('a model without a price is counted, never priced as zero', () => {
    const events = trace('t1', ['a', 'b', 'b'], { model: 'other', cache_creation_input_tokens: 10 });
    const r = cacheReport(events, PRICES);
    expect(r.hops[0]).to.include({ prefix_changed: 1, unpriced: 1 });
    expect(r.hops[0].write_cost).to.equal(undefined);
    expect(formatCacheReport(r)).to.contain('hop 1: 1 request(s) of a model without a price');
  });

  it('nothing to say without provider requests', () => {
    expect(formatCacheReport(cacheReport([], PRICES))).to.contain('no provider requests with a cacheable prefix');
  });
});
