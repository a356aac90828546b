// A Moat process's log lines reach stdout in batches, in order, none lost.
import { expect } from 'chai';
import { batchedLineLog } from '../../../../hops/runtime/line-log';
import { DIST_DIR } from '../../../helpers/repo-root';

describe('batched line log', () => {
  it('writes the lines of one moment as one write, in order, and nothing before', async () => {
    const writes: string[] = [];
    const lines = batchedLineLog((t) => writes.push(t));
    lines.log('a');
    lines.log('b c');
    expect(writes).to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 40));
    expect(writes).to.deep.equal(['a\nb c\n']);
    lines.log('d');
    await new Promise((r) => setTimeout(r, 40));
    expect(writes).to.deep.equal(['a\nb c\n', 'd\n']);
  });

  it('flush() writes what waits at once (process exit), and a long backlog goes out without waiting', () => {
    const writes: string[] = [];
    const lines = batchedLineLog((t) => writes.push(t));
    lines.log('last words');
    lines.flush();
    expect(writes).to.deep.equal(['last words\n']);
    lines.flush();
    expect(writes).to.have.length(1);
    const long = 'x'.repeat(1000);
    for (let i = 0; i < 70; i++) lines.log(long);
    expect(writes.length).to.equal(2);
    expect(writes[1].split('\n').filter(Boolean)).to.have.length(66);
    lines.flush();
    expect(
      writes
        .join('')
        .split('\n')
        .filter((l) => l === long),
    ).to.have.length(70);
  });

  it('a process that exits right after logging still prints the line', async () => {
    const { spawnSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const mod = join(DIST_DIR, 'hops', 'runtime', 'line-log.js');
    const run = spawnSync(
      process.execPath,
      ['-e', `const l = require(${JSON.stringify(mod)}).processLineLog(); l.log('one'); l.log('two'); process.exit(3)`],
      { encoding: 'utf8' },
    );
    expect(run.status).to.equal(3);
    expect(run.stdout).to.equal('one\ntwo\n');
  });

  it('a process whose stdout pipe broke (its pm2 daemon killed) goes on after logging', async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const mod = join(DIST_DIR, 'hops', 'runtime', 'line-log.js');
    const script =
      `const l = require(${JSON.stringify(mod)}).processLineLog(); setTimeout(() => { for (let i = 0; i < 50; ` +
      `i++) l.log('x'.repeat(2000)); l.flush(); }, 100); setTimeout(() => process.exit(0), 400)`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.destroy(); // the reading end goes, as when pm2's daemon dies
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(stderr).to.not.contain('EPIPE');
    expect(code).to.equal(0);
  });
});
