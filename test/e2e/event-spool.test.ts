// Regression (found by the resilience suite: 200s whose response event was missing after their
// link was killed with -9): events a process had published but NATS had not stored yet died with it.
// Now they wait in the process's spool, and the next run of the process sends them.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { EventPublisher } from '../../hops/events/publisher';
import { ensureStream } from '../../supervisor/ledger/writer';
import { freePort, waitForPort } from '../../supervisor/chain/ports';
import { SUBJECTS } from '../../hops/events/subjects';
import { decodeEvents } from '../../hops/events/wire';
import { event } from '../helpers/synthetic-events';
import { tmpDir } from '../helpers/tmp';

describe('event publisher: a killed process loses no event it published', function () {
  this.timeout(30_000);
  const dir = tmpDir('moat-spool-e2e-');
  const spoolDir = join(dir.path, 'run', '1-moat-telemetry.spool');
  let nats: ChildProcess;
  let natsUrl = '';

  before(async () => {
    const port = await freePort();
    natsUrl = `nats://127.0.0.1:${port}`;
    nats = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir.path, 'nats')], {
      stdio: 'ignore',
    });
    expect(await waitForPort(port, 10_000)).to.equal(true);
    const nc = await connect({ servers: natsUrl });
    await ensureStream(nc, 'test');
    await nc.close();
  });

  after(() => {
    nats?.kill('SIGKILL');
    dir.remove();
  });

  const options = (url: string) => ({
    natsUrl: url,
    queueSize: 100,
    chain: 'test',
    hop: 1,
    hopName: 'moat-telemetry',
    boundary: 0,
    log: () => undefined,
    spoolDir,
  });

  it('events queued when the process died are stored by its next run, each once', async () => {
    // The first run never reaches NATS (nothing listens there) and is abandoned without close(), as kill -9 would.
    const dead = new EventPublisher(options(`nats://127.0.0.1:${await freePort()}`));
    const sent = ['a', 'b', 'c'].map((t) => event(`trace-${t}`, 0, 'response', { id: `spool-${t}` }));
    for (const e of sent) dead.publish(e);

    const next = new EventPublisher(options(natsUrl));
    next.start();
    for (let i = 0; i < 200 && next.published < sent.length; i++) await new Promise((r) => setTimeout(r, 25));
    await next.close();
    expect(next.published).to.equal(sent.length);

    // Events travel in bursts (hops/events/wire.ts): count the events in the stored messages, each id once.
    const nc = await connect({ servers: natsUrl });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(SUBJECTS.stream('test'));
    const ids: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(SUBJECTS.stream('test'), { seq });
      ids.push(...decodeEvents(m.data).map((d) => (d.value as { id: string }).id));
    }
    await nc.close();
    expect(ids.sort()).to.deep.equal(sent.map((e) => e.id).sort());
    // All stored: the spool is empty again.
    expect(readdirSync(spoolDir)).to.deep.equal([]);
  });
});
