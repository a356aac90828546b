// The publisher's write-ahead spool (no NATS): what one run appends and does not release, the next
// run recovers; a line cut short by a kill is skipped; files go once every event in them is released.
import { expect } from 'chai';
import fs, { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { EventSpool } from '../../../../hops/events/spool';
import { tmpDir } from '../../../helpers/tmp';
import { DIST_DIR } from '../../../helpers/repo-root';

const line = (id: string) => JSON.stringify({ id, trace: 't' });

describe('event spool: events survive the process that published them', () => {
  let dir: { path: string; remove(): void };
  let logs: string[];
  beforeEach(() => {
    dir = tmpDir('moat-spool-');
    logs = [];
  });
  afterEach(() => dir.remove());

  const spool = () => new EventSpool(join(dir.path, 'x.spool'), (l) => logs.push(l));

  it('a run killed before NATS stored its events leaves them to the next run, in order', () => {
    const first = spool();
    first.recover();
    const stored = first.append(line('a'));
    first.append(line('b'));
    first.append(line('c'));
    first.release(stored); // "a" reached NATS; then kill -9: no close()
    const next = spool();
    // "a" is still in the file (files go whole): sent again, which NATS and the ledger writer skip.
    expect(next.recover().map((r) => JSON.parse(r.text).id)).to.deep.equal(['a', 'b', 'c']);
  });

  it('skips the line a kill cut short', () => {
    const first = spool();
    first.recover();
    first.append(line('a'));
    appendFileSync(join(dir.path, 'x.spool', '0.jsonl'), '{"id":"b","tra');
    expect(
      spool()
        .recover()
        .map((r) => JSON.parse(r.text).id),
    ).to.deep.equal(['a']);
  });

  it('removes a file once every event in it is released, and the recovered ones likewise', () => {
    const first = spool();
    first.recover();
    const segments = [first.append(line('a')), first.append(line('b'))];
    first.close(); // closed with events pending: kept
    expect(readdirSync(join(dir.path, 'x.spool'))).to.deep.equal(['0.jsonl']);
    const next = spool();
    const left = next.recover();
    const fresh = next.append(line('c'));
    expect(readdirSync(join(dir.path, 'x.spool')).sort()).to.deep.equal(['0.jsonl', '1.jsonl']);
    for (const r of left) next.release(r.segment);
    expect(readdirSync(join(dir.path, 'x.spool'))).to.deep.equal(['1.jsonl']);
    next.release(fresh);
    next.close();
    expect(readdirSync(join(dir.path, 'x.spool'))).to.deep.equal([]);
    expect(segments).to.have.length(2);
  });

  it('an unusable directory degrades to memory only, said once, never thrown', () => {
    appendFileSync(join(dir.path, 'file'), 'x');
    const broken = new EventSpool(join(dir.path, 'file', 'sub'), (l) => logs.push(l));
    expect(broken.recover()).to.deep.equal([]);
    expect(broken.append(line('a'))).to.equal(undefined);
    expect(broken.append(line('b'))).to.equal(undefined);
    expect(logs).to.have.length(1);
    expect(logs[0]).to.contain('events wait in memory only');
  });

  /** The ids in the spool's files, read as the next run would (recover() itself would remove an empty file). */
  const onDisk = () =>
    readdirSync(join(dir.path, 'x.spool'))
      .sort()
      .flatMap((f) => readFileSync(join(dir.path, 'x.spool', f), 'utf8').split('\n'))
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { id: string }).id);

  it('writes a line that may wait by the end of the turn, and a line needed now with every line before it', async () => {
    const first = spool();
    first.recover();
    first.append(line('request-1'), 'this turn');
    first.append(line('request-2'), 'this turn');
    // A kill now (before the turn ends) loses both: nothing had been answered.
    expect(onDisk()).to.deep.equal([]);
    first.append(line('response-1'));
    // A response needed now: it is on disk, and the requests that waited before it, in their order.
    expect(onDisk()).to.deep.equal(['request-1', 'request-2', 'response-1']);
    first.append(line('request-3'), 'this turn');
    expect(onDisk()).to.have.length(3);
    await new Promise((r) => setImmediate(r));
    expect(onDisk()).to.deep.equal(['request-1', 'request-2', 'response-1', 'request-3']);
  });

  it('writes what waits before closing, and before starting a new file', () => {
    const first = spool();
    first.recover();
    first.append(line('a'), 'this turn');
    first.close();
    expect(onDisk()).to.deep.equal(['a']);
    const next = spool();
    next.recover();
    // A line past the segment's 4 MiB: the next append starts a new file, the waiting line written to the old first.
    next.append(JSON.stringify({ id: 'big', pad: 'x'.repeat(4 << 20) }), 'this turn');
    next.append(line('c'), 'this turn');
    expect(readdirSync(join(dir.path, 'x.spool')).sort()).to.deep.equal(['0.jsonl', '1.jsonl', '2.jsonl']);
    expect(onDisk()).to.deep.equal(['a', 'big']);
    next.close();
    expect(onDisk()).to.deep.equal(['a', 'big', 'c']);
  });

  it('writes what waits when the process dies of an uncaught exception in that turn', () => {
    const spoolModule = join(DIST_DIR, 'hops', 'events', 'spool.js');
    const script =
      `const { EventSpool } = require(${JSON.stringify(spoolModule)});` +
      `const s = new EventSpool(${JSON.stringify(join(dir.path, 'x.spool'))}, () => {});` +
      `s.recover(); s.append(JSON.stringify({ id: 'crashed' }), 'this turn');` +
      `throw new Error('the request broke the hop');`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(1);
    expect(run.stderr).to.contain('the request broke the hop');
    expect(onDisk()).to.deep.equal(['crashed']);
  });

  it('counts no event whose write failed: its file goes once the others are released', () => {
    const first = spool();
    first.recover();
    const kept = first.append(line('a'));
    const realWrite = fs.writeSync;
    (fs as { writeSync: unknown }).writeSync = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    try {
      expect(first.append(line('b'))).to.equal(undefined);
    } finally {
      (fs as { writeSync: unknown }).writeSync = realWrite;
    }
    expect(logs.join('\n')).to.contain('ENOSPC');
    first.close();
    expect(readdirSync(join(dir.path, 'x.spool'))).to.deep.equal(['0.jsonl']);
    first.release(kept);
    expect(readdirSync(join(dir.path, 'x.spool')), 'no event left counted in it').to.deep.equal([]);
  });
});
