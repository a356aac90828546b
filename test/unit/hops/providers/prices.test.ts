import { expect } from 'chai';
import { costOf, priceFor } from '../../../../hops/providers/prices';

describe('prices: estimated cost from usage (no sockets)', () => {
  const table = {
    'claude-sonnet-4-5': { input: 3, output: 15 },
    'claude-*': { input: 1, output: 5 },
    'gpt-4o*': { input: 2.5, output: 10 },
  };

  it('an exact model name wins over globs, then the first glob that fits', () => {
    expect(priceFor(table, 'claude-sonnet-4-5')).to.deep.equal({ input: 3, output: 15 });
    expect(priceFor(table, 'claude-haiku-4')).to.deep.equal({ input: 1, output: 5 });
    expect(priceFor(table, 'gpt-4o-mini')).to.deep.equal({ input: 2.5, output: 10 });
  });

  it('cost is tokens x price per million, input and output priced apart', () => {
    expect(costOf(table, 'claude-sonnet-4-5', 1_000_000, 0)).to.equal(3);
    expect(costOf(table, 'claude-sonnet-4-5', 2000, 1000)).to.be.closeTo(0.006 + 0.015, 1e-12);
  });

  it('an unknown or missing model has no cost rather than zero', () => {
    expect(costOf(table, 'llama-3', 100, 100)).to.equal(undefined);
    expect(costOf(table, undefined, 100, 100)).to.equal(undefined);
    expect(costOf({}, 'claude-x', 100, 100)).to.equal(undefined);
  });
});
