// A chain whose pm2 daemon died: how a Moat process reads its parent (hops/runtime/parent-watch.ts), and what `status`
// says (supervisor/chain/daemon-death.ts).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parentPidOfStat, parentAlive } from '../../../../hops/runtime/parent-watch';
import { daemonDiedMessage, shortCommand } from '../../../../supervisor/chain/daemon-death';

describe('pm2 daemon death', () => {
  it('reads the parent pid from a /proc stat line, a command name with ") " in it included', () => {
    expect(parentPidOfStat('123 (node) S 45 123 123 0 -1')).to.equal(45);
    expect(parentPidOfStat('123 (a) b (c) R 7 1 1')).to.equal(7);
    expect(parentPidOfStat(readFileSync('/proc/self/stat', 'utf8'))).to.equal(process.ppid);
    expect(() => parentPidOfStat('garbage')).to.throw(/no parent pid/);
  });

  it('takes the parent for alive while it is the first one', () => {
    expect(parentAlive(process.ppid)).to.equal(true);
    expect(parentAlive(process.ppid + 100000)).to.equal(false);
  });

  it('says the chain stopped, what still runs, and what to do', () => {
    expect(daemonDiedMessage(42, [])).to.equal(
      'chain stopped: its pm2 daemon died (pid 42); every process of the chain exited with it, so nothing ' +
        'serves and nothing is supervised; run `moat chain down`, then `moat chain up`',
    );
    expect(daemonDiedMessage(42, [{ pid: 7, command: 'nats-server -js' }])).to.equal(
      "chain stopped: its pm2 daemon died (pid 42); Moat's processes exit with it, but 1 process pm2 started " +
        'still runs unsupervised: nats-server -js (pid 7); run `moat chain down`, then `moat chain up` (down ' +
        'stops them)',
    );
    expect(
      daemonDiedMessage(42, [
        { pid: 7, command: 'a' },
        { pid: 8, command: 'b' },
      ]),
    ).to.contain('but 2 processes pm2 started still run unsupervised: a (pid 7), b (pid 8)');
    expect(shortCommand(['nats-server', '-js', '-a', '127.0.0.1', ''].join('\0'))).to.equal(
      'nats-server -js -a 127.0.0.1',
    );
    expect(shortCommand('x'.repeat(100))).to.have.length(60);
  });
});
