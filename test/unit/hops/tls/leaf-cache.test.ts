// The leaf cache's bound (hops/tls/leaf-cache.ts): it holds at most its bound of hosts, dropping the least recently
// used, and a dropped host is minted again when it is asked for.
import { expect } from 'chai';
import { LeafCache } from '../../../../hops/tls/leaf-cache';
import { stateLayout } from '../../../../supervisor/chain/state';
import { ensureCa } from '../../../../supervisor/chain/ca';
import { tmpDir } from '../../../helpers/tmp';

describe('leaf cache bound', () => {
  const dir = tmpDir('moat-lc-');
  const layout = stateLayout('t', dir.path);
  before(() => ensureCa(layout));
  after(() => dir.remove());

  it('never holds more than its bound, and drops the least recently used host first', () => {
    const leaves = new LeafCache(layout, 3);
    const a = leaves.contextFor('a.example');
    leaves.contextFor('b.example');
    leaves.contextFor('c.example');
    expect(leaves.contextFor('A.example'), 'a held context is given again, whatever the case').to.equal(a);
    leaves.contextFor('d.example');
    expect(leaves.size).to.equal(3);
    expect(leaves.holds('b.example'), 'b was the least recently used').to.equal(false);
    expect(leaves.holds('a.example'), 'a was used after b and c').to.equal(true);
    expect(leaves.holds('c.example')).to.equal(true);
    expect(leaves.holds('d.example')).to.equal(true);
    for (let i = 0; i < 20; i++) leaves.contextFor(`n${i}.example`);
    expect(leaves.size).to.equal(3);
  });

  it('mints a dropped host again, with a fresh context', () => {
    const leaves = new LeafCache(layout, 1);
    const first = leaves.contextFor('a.example');
    leaves.contextFor('b.example');
    expect(leaves.holds('a.example')).to.equal(false);
    const again = leaves.contextFor('a.example');
    expect(again).to.not.equal(first);
    expect(leaves.holds('a.example')).to.equal(true);
  });
});
