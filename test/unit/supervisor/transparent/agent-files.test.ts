// What `run --transparent` covers in the agent's namespace and what it gives it instead (agent-files.ts,
// hide-state.ts).
import { expect } from 'chai';
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { copyTrust } from '../../../../supervisor/transparent/agent-files';
import { coveredPaths, outermost } from '../../../../supervisor/transparent/covered-paths';
import { tmpDir } from '../../../helpers/tmp';

describe("run --transparent: the agent's view of moat's files", () => {
  it('covers MOAT_HOME and a pm2 home outside it, once each', () => {
    expect(outermost(['/h', '/h/chains/a/pm2', '/tmp/moat-pm2-ab', '/h'])).to.deep.equal(['/h', '/tmp/moat-pm2-ab']);
    expect(outermost(['/h2', '/h'])).to.deep.equal(['/h2', '/h']);
    const dir = tmpDir('moat-cover-');
    try {
      const home = join(dir.path, 'home');
      const pm2 = join(dir.path, 'pm2');
      // A temporary directory of the test's own: the machine's /tmp may hold other runs' moat-pm2-* homes.
      const tmp = join(dir.path, 'tmp');
      mkdirSync(tmp);
      mkdirSync(join(home, 'chains', 'a', 'pm2'), { recursive: true });
      expect(coveredPaths({ moatHome: home, pm2Home: join(home, 'chains', 'a', 'pm2') }, tmp)).to.deep.equal([home]);
      expect(coveredPaths({ moatHome: home, pm2Home: pm2 }, tmp)).to.deep.equal([home]); // not there: nothing to cover
      mkdirSync(pm2);
      expect(coveredPaths({ moatHome: home, pm2Home: pm2 }, tmp)).to.deep.equal([home, pm2]);
      const other = join(tmp, 'moat-pm2-x');
      mkdirSync(other);
      expect(coveredPaths({ moatHome: home, pm2Home: pm2 }, tmp)).to.deep.equal([home, pm2, other]);
    } finally {
      dir.remove();
    }
  });

  it('gives the agent copies of the CA files in a private directory, removed at the end', () => {
    const dir = tmpDir('moat-trust-');
    try {
      const caCertFile = join(dir.path, 'ca.crt');
      const caBundleFile = join(dir.path, 'ca-bundle.pem');
      writeFileSync(caCertFile, 'CA', { mode: 0o600 });
      writeFileSync(caBundleFile, 'ROOTS+CA', { mode: 0o600 });
      const trust = copyTrust({ caCertFile, caBundleFile });
      expect(readFileSync(trust.caCertFile, 'utf8')).to.equal('CA');
      expect(readFileSync(trust.caBundleFile, 'utf8')).to.equal('ROOTS+CA');
      expect(statSync(dirname(trust.caCertFile)).mode & 0o777).to.equal(0o700);
      expect(statSync(trust.caCertFile).mode & 0o077).to.equal(0);
      trust.remove();
      trust.remove();
      expect(existsSync(dirname(trust.caCertFile))).to.equal(false);
      expect(() => copyTrust({ caCertFile: join(dir.path, 'missing'), caBundleFile })).to.throw(
        /cannot copy the Moat CA for the agent into \/tmp\/moat-run-/,
      );
    } finally {
      dir.remove();
    }
  });
});
