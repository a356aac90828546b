// The agent's environment for Node: NODE_USE_ENV_PROXY and the preload in NODE_OPTIONS, the caller's NODE_OPTIONS
// kept, a path with spaces or quotes quoted the way Node reads NODE_OPTIONS.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentEnv, nodeProxyEnv } from '../../../../supervisor/commands/env';
import { NODE_PRELOAD_FILE } from '../../../../supervisor/paths';
import { stateLayout } from '../../../../supervisor/chain/state';
import { tmpDir } from '../../../helpers/tmp';

describe('agent environment: Node', () => {
  it('adds the preload after the caller NODE_OPTIONS, once', () => {
    const opt = `--require "${NODE_PRELOAD_FILE}"`;
    const cases: [string | undefined, string][] = [
      [undefined, opt],
      ['', opt],
      ['  --max-old-space-size=300 ', `--max-old-space-size=300 ${opt}`],
      [`--inspect ${opt}`, `--inspect ${opt}`],
    ];
    for (const [existing, want] of cases)
      expect(nodeProxyEnv(existing), String(existing)).to.deep.equal({ NODE_USE_ENV_PROXY: '1', NODE_OPTIONS: want });
  });

  it('agentEnv carries them next to the proxy and the CA', () => {
    const env = agentEnv(stateLayout('g', '/h'), 4000, 'tok', {}, '--trace-warnings');
    expect(env.NODE_USE_ENV_PROXY).to.equal('1');
    expect(env.NODE_OPTIONS).to.equal(`--trace-warnings --require "${NODE_PRELOAD_FILE}"`);
    expect(env.NODE_OPTIONS).not.to.contain('tok');
  });

  it('quotes a path with spaces, quotes and backslashes so that Node loads it', () => {
    const dir = tmpDir('moat-nodeopt-');
    try {
      const file = join(dir.path, 'a b "c" \\d.js');
      writeFileSync(file, 'process.stdout.write("loaded ")');
      const { NODE_OPTIONS } = nodeProxyEnv('--no-warnings', file);
      const out = execFileSync(process.execPath, ['-e', 'process.stdout.write("main")'], {
        env: { ...process.env, NODE_OPTIONS },
      });
      expect(out.toString()).to.equal('loaded main');
    } finally {
      dir.remove();
    }
  });

  it('the preload file is where paths.ts says (built next to this test)', () => {
    expect(NODE_PRELOAD_FILE).to.match(/\/dist\/supervisor\/agent\/node-preload\.js$/);
    expect(() => require.resolve(NODE_PRELOAD_FILE)).not.to.throw();
  });
});
