import { expect } from 'chai';
import { SCAVENGE_EVERY_BYTES, scavengeHint, type MinorGc } from '../../../../hops/runtime/scavenge-hint';

describe('scavenge hint: a scavenge asked for every 8 MiB of body', () => {
  it('asks once per SCAVENGE_EVERY_BYTES, for a minor collection that does not block', () => {
    const asked: Parameters<MinorGc>[0][] = [];
    const passed = scavengeHint((o) => asked.push(o));
    passed(SCAVENGE_EVERY_BYTES - 1);
    expect(asked).to.have.length(0);
    passed(1);
    expect(asked).to.deep.equal([{ type: 'minor', execution: 'async' }]);
    for (let i = 0; i < 64; i++) passed(64 * 1024); // 4 MiB more: not yet
    expect(asked).to.have.length(1);
    for (let i = 0; i < 64; i++) passed(64 * 1024);
    expect(asked).to.have.length(2);
  });

  it('does nothing without gc (a process not started with --expose-gc)', () => {
    expect(() => scavengeHint(undefined)(SCAVENGE_EVERY_BYTES * 4)).to.not.throw();
  });
});
