// Finding a chain's processes by the PM2_HOME in their environment, as `down` does when the daemon is gone.
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { chainProcesses, environHas, isAlive } from '../../../../hops/runtime/chain-processes';
import { tmpDir } from '../../../helpers/tmp';

describe('chain processes by PM2_HOME', () => {
  it('matches the whole variable, not a prefix or another variable holding the path', () => {
    const env = ['PATH=/usr/bin', 'PM2_HOME=/s/chains/a/pm2', 'HOME=/s/chains/a/pm2'].join('\0') + '\0';
    expect(environHas(env, 'PM2_HOME', '/s/chains/a/pm2')).to.equal(true);
    expect(environHas(env, 'PM2_HOME', '/s/chains/a')).to.equal(false);
    expect(
      environHas(
        env.replace('PM2_HOME=/s/chains/a/pm2', 'PM2_HOME=/s/chains/a/pm2-other'),
        'PM2_HOME',
        '/s/chains/a/pm2',
      ),
    ).to.equal(false);
    expect(environHas('HOME=/s/chains/a/pm2\0', 'PM2_HOME', '/s/chains/a/pm2')).to.equal(false);
  });

  it(
    'lists the pids of a /proc whose environ names this chain, ' + 'skipping others, non-pids and unreadable entries',
    () => {
      const dir = tmpDir();
      try {
        const proc = (name: string, environ?: string) => {
          mkdirSync(join(dir.path, name));
          if (environ !== undefined) writeFileSync(join(dir.path, name, 'environ'), environ);
        };
        proc('101', 'PM2_HOME=/c/a/pm2\0name=a:1-moat-policy\0pm_pid_path=/c/a/pm2/pids/a-1-moat-policy-4.pid\0');
        proc('102', 'PM2_HOME=/c/b/pm2\0');
        proc('103'); // gone meanwhile: no environ
        proc('self', 'PM2_HOME=/c/a/pm2\0pm_pid_path=/c/a/pm2/pids/s.pid\0');
        proc('104', 'X=1\0PM2_HOME=/c/a/pm2\0pm_pid_path=/c/a/pm2/pids/a-nats-0.pid\0');
        proc('105', 'PM2_HOME=/c/a/pm2\0SHELL=/bin/bash\0'); // a shell that exported PM2_HOME for `pm2 ls`: not an app
        proc('106', 'PM2_HOME=/c/a/pm2\0pm_pid_path=/c/b/pm2/pids/x.pid\0');
        expect(chainProcesses('/c/a/pm2', dir.path).sort()).to.deep.equal([101, 104]);
        expect(chainProcesses('/c/a/pm2', join(dir.path, 'missing'))).to.deep.equal([]);
      } finally {
        dir.remove();
      }
    },
  );

  it('takes a zombie (exited, not yet reaped) for gone, and a running process for alive', async () => {
    // Python forks a child that exits at once and never waits for it: a zombie for 3 s. (A shell's `sleep 0 &` before
    // `exec sleep 3` could be reaped by the shell first, under load.)
    const script = 'import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(3)';
    const parent = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(
        await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))),
      );
      for (let i = 0; i < 100; i++) {
        process.kill(zombie, 0); // still there: only its parent could reap it
        if (!isAlive(zombie)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(isAlive(zombie)).to.equal(false);
      expect(isAlive(parent.pid!)).to.equal(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
