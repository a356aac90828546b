// The one warning the Node preload drops: Node 22 (22.21 and later) prints undici's "EnvHttpProxyAgent is
// experimental" (UNDICI-EHPA) at the start of every Node process run with NODE_USE_ENV_PROXY=1 and a proxy, which
// `moat chain env` and `run` set. Each case runs a Node process of its own, as an agent's would be, told which Node
// version it is (the preload reads it) so that the cases mean the same on any Node the tests run on.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_PRELOAD_FILE } from '../../../../supervisor/paths';
import { tmpDir } from '../../../helpers/tmp';

const FILTER_MODULE = join(NODE_PRELOAD_FILE, '..', 'env-proxy-warning.js');
// What Node 22 emits as it starts (its pre-execution), and two warnings that must still print.
const EMIT_WARNINGS = `
process.emitWarning('EnvHttpProxyAgent is experimental, expect them to change at any time.', { code: 'UNDICI-EHPA' });
process.emitWarning('another experimental thing', { code: 'OTHER-1' });
process.emitWarning("Setting the NODE_TLS_REJECT_UNAUTHORIZED environment variable to '0' makes TLS connections insecure");
`;

function runNode(args: string[], env: NodeJS.ProcessEnv = {}): { stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, args, {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { stdout: res.stdout, stderr: res.stderr };
}

describe('Node preload: the warning Node 22 prints about its own proxy support', () => {
  it('the filter drops UNDICI-EHPA and lets every other warning through Node’s printer', () => {
    const { stdout, stderr } = runNode([
      '-e',
      `console.log(require(${JSON.stringify(FILTER_MODULE)}).dropEnvProxyWarning()); ${EMIT_WARNINGS}`,
    ]);
    expect(stdout).to.equal('true\n');
    expect(stderr).not.to.contain('UNDICI-EHPA');
    expect(stderr).not.to.contain('EnvHttpProxyAgent');
    expect(stderr).to.contain('[OTHER-1] Warning: another experimental thing');
    expect(stderr).to.contain('NODE_TLS_REJECT_UNAUTHORIZED');
  });

  it('leaves warnings alone when they are off, or when another listener is there already', () => {
    const off = runNode([
      '--no-warnings',
      '-e',
      `console.log(require(${JSON.stringify(FILTER_MODULE)}).dropEnvProxyWarning(), process.listenerCount('warning'))`,
    ]);
    expect(off.stdout).to.equal('false 0\n');
    const theirs = runNode([
      '-e',
      `process.on('warning', () => {}); console.log(require(${JSON.stringify(FILTER_MODULE)}).dropEnvProxyWarning()); ${EMIT_WARNINGS}`,
    ]);
    expect(theirs.stdout).to.equal('false\n');
    expect(theirs.stderr).to.contain('[UNDICI-EHPA]');
    // Warnings off, and a listener of the program's own the only one (an earlier --require): it still hears them all.
    const alone = runNode([
      '--no-warnings',
      '-e',
      `const heard = []; process.once('warning', (w) => heard.push(w.code)); ` +
        `const put = require(${JSON.stringify(FILTER_MODULE)}).dropEnvProxyWarning(); ${EMIT_WARNINGS}; ` +
        `setImmediate(() => console.log(put, heard.join(','), process.listenerCount('warning')));`,
    ]);
    expect(alone.stdout).to.equal('false UNDICI-EHPA 0\n');
  });

  describe('through the preload, as `env` and `run` set it up', () => {
    const dir = tmpDir('moat-ehpa-');
    const asNode22 = join(dir.path, 'as-node-22.js');
    const asNode20 = join(dir.path, 'as-node-20.js');
    const asNode24 = join(dir.path, 'as-node-24.js');
    const program = join(dir.path, 'program.js');
    before(() => {
      writeFileSync(asNode22, `Object.defineProperty(process, 'version', { value: 'v22.23.5' });\n`);
      writeFileSync(asNode20, `Object.defineProperty(process, 'version', { value: 'v20.20.2' });\n`);
      writeFileSync(asNode24, `Object.defineProperty(process, 'version', { value: 'v24.22.3' });\n`);
      // What the program sees: whether the preload replaced https.globalAgent (it must not where Node routes itself).
      writeFileSync(program, `${EMIT_WARNINGS}\nconsole.log(require('node:https').globalAgent.constructor.name);\n`);
    });
    after(() => dir.remove());
    const proxyEnv = (nodeOptions: string) => ({
      NODE_USE_ENV_PROXY: '1',
      HTTPS_PROXY: 'http://moat:token@127.0.0.1:9',
      NODE_OPTIONS: nodeOptions,
    });

    it('on a Node that routes through the proxy itself: the preload drops that warning and changes nothing else', () => {
      const { stdout, stderr } = runNode(
        [program],
        proxyEnv(`--require "${asNode22}" --require "${NODE_PRELOAD_FILE}"`),
      );
      expect(stdout).to.equal('Agent\n');
      expect(stderr).not.to.contain('UNDICI-EHPA');
      expect(stderr).to.contain('[OTHER-1]');
      expect(stderr).to.contain('NODE_TLS_REJECT_UNAUTHORIZED');
    });

    it('on Node 24, which routes itself and does not print it: the preload leaves warnings as they are', () => {
      const { stdout, stderr } = runNode(
        [program],
        proxyEnv(`--require "${asNode24}" --require "${NODE_PRELOAD_FILE}"`),
      );
      expect(stdout).to.equal('Agent\n');
      expect(stderr).to.contain('[UNDICI-EHPA]');
    });

    it('on a Node that does not: the preload routes the agents and leaves Node’s warnings as they are', () => {
      const { stdout, stderr } = runNode(
        [program],
        proxyEnv(`--require "${asNode20}" --require "${NODE_PRELOAD_FILE}"`),
      );
      expect(stdout).to.equal('TunnellingAgent\n');
      expect(stderr).to.contain('[UNDICI-EHPA]');
      expect(stderr).to.contain('[OTHER-1]');
    });
  });
});
