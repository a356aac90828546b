import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { SCAVENGE_EVERY_BYTES, scavengeHint, type MinorGc } from '../../../../hops/runtime/scavenge-hint';

describe('scavenge hint: a scavenge asked for every 8 MiB passed', () => {
  it('asks once per SCAVENGE_EVERY_BYTES, for a minor collection queued as a task', () => {
    const asked: Parameters<MinorGc>[0][] = [];
    const hint = scavengeHint((o) => asked.push(o));
    hint.passed(SCAVENGE_EVERY_BYTES - 1);
    expect(asked).to.have.length(0);
    hint.passed(1);
    expect(asked).to.deep.equal([{ type: 'minor', execution: 'async' }]);
    for (let i = 0; i < 64; i++) hint.passed(64 * 1024); // 4 MiB more: not yet
    expect(asked).to.have.length(1);
    for (let i = 0; i < 64; i++) hint.passed(64 * 1024);
    expect(asked).to.have.length(2);
    expect(hint.total).to.equal(2 * SCAVENGE_EVERY_BYTES);
  });

  it('without gc (a process not started with --expose-gc) it only counts', () => {
    const hint = scavengeHint(undefined);
    hint.passed(SCAVENGE_EVERY_BYTES * 4);
    expect(hint.total).to.equal(SCAVENGE_EVERY_BYTES * 4);
  });

  it("this Node's gc() takes the options as the hint gives them (a queued minor collection: a Promise)", () => {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '-e', "const p = gc({ type: 'minor', execution: 'async' }); console.log(p instanceof Promise)"],
      { encoding: 'utf8' },
    );
    expect(out.trim()).to.equal('true');
  });
});
