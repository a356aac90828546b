// An isolated hop (`isolation: netns`) runs as the user who owns every file of moat. Its network namespace keeps it
// off the chain's ports and link sockets; this suite attacks what is left, the file system and /proc, with a hostile
// hop (test/fixtures/prying-hop.ts). Inside its namespaces it must not read the chain token, the link credentials,
// egress's sealed keys and their key, the plan, the ledger; must not reach pm2's sockets (pm2 would start a process
// for it outside the namespaces); must not see the chain's processes in /proc (whose root and environment would lead
// it back); must not climb out of its working directory with `..`, nor plant a file in MOAT_HOME. It still reads the
// Moat CA and its trust bundle and writes in its own directory. The same attempts made from outside reach it all.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { DIST_DIR } from '../helpers/repo-root';
import { pry, type PryReport, type PryTargets } from '../fixtures/prying-hop';
import { skipWithoutNamespaces } from '../helpers/namespaces';

const PRYING_HOP = join(DIST_DIR, 'test', 'fixtures', 'prying-hop.js');
const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

describe("security: an isolated hop reaches none of moat's files, sockets or processes", function () {
  this.timeout(120_000);
  before(function () {
    skipWithoutNamespaces(this);
  });

  let secrets: PryTargets;
  const targetsFile = () => join(dirname(chain.home), 'targets.json');
  const hopDir = () => chain.layout.hopDir(1, 'prying');
  const { chain } = chainFixture({
    name: 'prying',
    config: (provider) => {
      const l = chain.layout;
      secrets = {
        files: [
          l.tokenFile,
          l.egressSecretsFile,
          l.egressSecretsKeyFile,
          l.dashboardTokenFile,
          l.planFile,
          l.ledgerFile,
        ],
        dirs: [l.linksDir, l.runDir],
        sockets: [join(l.pm2Home, 'rpc.sock'), join(l.pm2Home, 'pub.sock')],
        writes: [],
      };
      const inside: PryTargets = {
        // The working directory is the hop's own, two levels under the state directory.
        files: [...secrets.files, '../../token', l.caCertFile, l.caBundleFile],
        dirs: [...secrets.dirs, '../../links'],
        sockets: secrets.sockets,
        writes: [join(l.moatHome, 'planted'), join(l.stateDir, 'planted'), join(hopDir(), 'own-file')],
      };
      writeFileSync(targetsFile(), JSON.stringify(inside));
      return `name: prying
proxies:
  - name: prying
    command: ["${process.execPath}", "${PRYING_HOP}", --port, "{port}", --targets, "${targetsFile()}", --report, "{dir}/report.json"]
    tls: plain
  - moat-policy
grants: [anthropic]
${egressTo(provider.port)}
`;
    },
    up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
  });

  async function insideReport(): Promise<PryReport> {
    const file = join(hopDir(), 'report.json');
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    return JSON.parse(readFileSync(file, 'utf8')) as PryReport;
  }

  it('from outside the same attempts reach every file, socket and process (the control)', async () => {
    const outside = await pry(secrets);
    for (const target of [...secrets.files, ...secrets.dirs])
      expect(outside.reached[target], target).to.be.oneOf(['read', 'listed']);
    for (const socket of secrets.sockets) expect(outside.reached[socket], socket).to.equal('connected');
    expect(outside.moatProcesses.join('\n')).to.contain('God Daemon').and.contain('hop-process.js');
  });

  it("inside, moat's state is empty: no credential, sealed key, plan or ledger, no pm2 socket", async () => {
    const report = await insideReport();
    for (const target of [...secrets.files, ...secrets.sockets])
      expect(report.reached[target], target).to.equal('ENOENT');
    for (const dir of secrets.dirs) expect(report.reached[dir], dir).to.equal('ENOENT');
  });

  it('inside, `..` from its working directory does not lead back into the state directory', async () => {
    const report = await insideReport();
    expect(report.reached['../../token']).to.equal('ENOENT');
    expect(report.reached['../../links']).to.equal('ENOENT');
  });

  it("inside, /proc shows none of the chain's processes", async () => {
    const report = await insideReport();
    expect(report.moatProcesses).to.deep.equal([]);
  });

  it('inside, nothing can be planted in MOAT_HOME; the CA files are readable and its own directory writable', async () => {
    const l = chain.layout;
    const report = await insideReport();
    expect(report.reached[join(l.moatHome, 'planted')]).to.equal('EROFS');
    expect(report.reached[join(l.stateDir, 'planted')]).to.equal('EROFS');
    expect(existsSync(join(l.moatHome, 'planted'))).to.equal(false);
    expect(report.reached[l.caCertFile]).to.equal('read');
    expect(report.reached[l.caBundleFile]).to.equal('read');
    expect(report.reached[join(hopDir(), 'own-file')]).to.equal('written');
    expect(readFileSync(join(hopDir(), 'own-file'), 'utf8')).to.equal('planted');
  });
});
