// The Node preload drops one warning in the agent's processes (Node 22's "EnvHttpProxyAgent is experimental",
// supervisor/agent/env-proxy-warning.ts). A filter there must not become a way to hide what the user needs to see:
// Node's warning that TLS checks are off, a warning spelled like the dropped one but with another code, or the
// dropped text under a code of its own. Each case is a Node process of its own started as `run` starts an agent,
// told it is Node 22.23 so that the preload takes the path that filters.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_PRELOAD_FILE } from '../../supervisor/paths';
import { tmpDir } from '../helpers/tmp';

describe('Node preload: the warning filter hides nothing but the one warning', () => {
  const dir = tmpDir('moat-warnsec-');
  const asNode22 = join(dir.path, 'as-node-22.js');
  before(() => writeFileSync(asNode22, `Object.defineProperty(process, 'version', { value: 'v22.23.5' });\n`));
  after(() => dir.remove());

  const stderrOf = (code: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, ['-e', code], {
      env: {
        PATH: process.env.PATH,
        NODE_USE_ENV_PROXY: '1',
        HTTPS_PROXY: 'http://moat:token@127.0.0.1:9',
        NODE_OPTIONS: `--require "${asNode22}" --require "${NODE_PRELOAD_FILE}"`,
        ...env,
      },
      encoding: 'utf8',
      timeout: 20_000,
    }).stderr;

  it('Node’s own warning that TLS verification is off still prints', () => {
    const stderr = stderrOf(`require('node:tls').connect({ port: 9, host: '127.0.0.1' }).on('error', () => {});`, {
      NODE_TLS_REJECT_UNAUTHORIZED: '0',
    });
    expect(stderr).to.contain('NODE_TLS_REJECT_UNAUTHORIZED');
    expect(stderr).to.contain('insecure');
  });

  it('the dropped text under another code, and another text under a look-alike code, both print', () => {
    const stderr = stderrOf(`
      process.emitWarning('EnvHttpProxyAgent is experimental, expect them to change at any time.', { code: 'UNDICI-EHPA' });
      process.emitWarning('EnvHttpProxyAgent is experimental, expect them to change at any time.', { code: 'X-EHPA' });
      process.emitWarning('a warning the agent should see', { code: 'undici-ehpa' });
      process.emitWarning('a warning the agent should see too', { code: 'UNDICI-EHPA ' });
    `);
    expect(stderr, 'the filter is in').not.to.contain('[UNDICI-EHPA]');
    expect(stderr).to.contain('[X-EHPA]');
    expect(stderr).to.contain('[undici-ehpa]');
    expect(stderr).to.contain('a warning the agent should see too');
  });
});
