// An isolated hop (`isolation: netns`) runs as the user who owns every file of moat. Its network namespace keeps it
// off the chain's ports and link sockets; this suite attacks what is left, the file system and /proc, with a hostile
// hop (test/fixtures/prying-hop.ts). Inside its namespaces it must not read the chain token, the link credentials,
// egress's sealed keys and their key (the grant's real key is sealed there), the plan, the ledger; must not reach
// pm2's sockets (pm2 would start a process for it outside the namespaces) nor another program's socket in /tmp or a
// system daemon's in /run; must not see the chain's processes in /proc (whose root and environment would lead it
// back); must not climb out of its working directory with `..`; must change no file outside its own directory (not the
// Moat CA everyone trusts, not a file of the user's that runs later); and still reads the CA files and writes in its
// own directory. The same attempts made from outside reach it all.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { DIST_DIR } from '../helpers/repo-root';
import { skipWithoutNamespaces } from '../helpers/namespaces';
import { tmpDir } from '../helpers/tmp';
import { pry, type PryReport, type PryTargets } from '../fixtures/prying-hop';

const PRYING_HOP = join(DIST_DIR, 'test', 'fixtures', 'prying-hop.js');
const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

describe("security: an isolated hop reaches none of moat's files, sockets or processes, and changes no file", function () {
  this.timeout(120_000);
  before(function () {
    skipWithoutNamespaces(this);
  });

  // Another program's socket in /tmp, and a file of the user's outside /tmp (in /var/tmp: the root file system).
  const scratch = tmpDir('moat-pry-');
  const otherSocket = join(scratch.path, 'other.sock');
  const other = net.createServer((s) => s.destroy());
  const victimDir = mkdtempSync('/var/tmp/moat-pry-');
  const victim = join(victimDir, 'profile');
  // A file `up` writes into the hop's directory (its `files:`), which the hop replaces with a link to another of the
  // user's files, for the next `up` to write through.
  const linkVictim = join(victimDir, 'config');
  // A system daemon's socket in /run (Docker's, a database's), which would take the hop's commands as the user's:
  // made where this user may (root, as in CI); otherwise its test is skipped.
  const daemonSocket = `/run/moat-pry-${randomBytes(6).toString('hex')}.sock`;
  const daemon = net.createServer((s) => s.destroy());
  let daemonListening = false;
  // Listening before the chain is up: the hop tries as it starts.
  before(() => new Promise<void>((resolve) => other.listen(otherSocket, resolve)));
  before(
    () =>
      new Promise<void>((resolve) => {
        daemon.once('error', () => resolve());
        daemon.listen(daemonSocket, () => {
          daemonListening = true;
          resolve();
        });
      }),
  );
  let secrets: PryTargets;
  const hopDir = () => chain.layout.hopDir(1, 'prying');
  const { chain } = chainFixture({
    name: 'prying',
    config: (provider) => {
      const l = chain.layout;
      writeFileSync(victim, 'unchanged');
      writeFileSync(linkVictim, 'unchanged');
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
        sockets: [join(l.pm2Home, 'rpc.sock'), join(l.pm2Home, 'pub.sock'), otherSocket],
        writes: [],
      };
      const inside: PryTargets = {
        // The working directory is the hop's own, two levels under the state directory.
        files: [...secrets.files, '../../token', l.caCertFile, l.caBundleFile],
        dirs: [...secrets.dirs, '../../links'],
        sockets: [...secrets.sockets, daemonSocket],
        writes: [victim, l.caCertFile, l.caBundleFile, join(l.moatHome, 'planted'), join(hopDir(), 'own-file')],
        links: { 'conf.txt': linkVictim },
      };
      return `name: prying
proxies:
  - name: prying
    command: ["${process.execPath}", "${PRYING_HOP}", --port, "{port}", --report, "{dir}/report.json"]
    env:
      PRY_TARGETS: '${JSON.stringify(inside)}'
    files:
      conf.txt: "written by moat"
    tls: plain
  - moat-policy
grants: [anthropic]
${egressTo(provider.port)}
`;
    },
    up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
  });
  after(() => {
    other.close();
    daemon.close();
    scratch.remove();
    rmSync(victimDir, { recursive: true, force: true });
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
    expect(readFileSync(chain.layout.egressSecretsFile)).to.not.include(Buffer.from(REAL_KEY)); // sealed, not plain
  });

  it("inside, moat's state is empty: no credential, sealed key, plan or ledger; no pm2 socket, no other socket", async () => {
    const report = await insideReport();
    for (const target of [...secrets.files, ...secrets.dirs, ...secrets.sockets])
      expect(report.reached[target], target).to.equal('ENOENT');
  });

  it("inside, a system daemon's socket in /run is not there (from outside it connects)", async function () {
    if (!daemonListening) this.skip();
    const outside = await pry({ files: [], dirs: [], sockets: [daemonSocket], writes: [] });
    expect(outside.reached[daemonSocket]).to.equal('connected');
    expect((await insideReport()).reached[daemonSocket]).to.equal('ENOENT');
  });

  it('inside, it works in its own directory, and `..` from there does not lead back into the state', async () => {
    const report = await insideReport();
    expect(report.cwd).to.equal(realpathSync(hopDir()));
    expect(report.reached['../../token']).to.equal('ENOENT');
    expect(report.reached['../../links']).to.equal('ENOENT');
  });

  it("inside, /proc shows none of the chain's processes", async () => {
    const report = await insideReport();
    expect(report.moatProcesses).to.deep.equal([]);
  });

  it('inside, it changes no file but its own: not the CA, not a file of the user elsewhere', async () => {
    const l = chain.layout;
    const report = await insideReport();
    expect(report.reached[`write ${victim}`]).to.equal('EROFS');
    expect(readFileSync(victim, 'utf8')).to.equal('unchanged');
    expect(report.reached[`write ${l.caCertFile}`]).to.equal('EROFS');
    expect(report.reached[`write ${l.caBundleFile}`]).to.equal('EROFS');
    expect(readFileSync(l.caCertFile, 'utf8')).to.match(/^-----BEGIN CERTIFICATE-----/);
    // MOAT_HOME lies in /tmp here, which the hop sees as a tmpfs of its own: what it writes there stays there.
    expect(existsSync(join(l.moatHome, 'planted'))).to.equal(false);
  });

  it('inside, the CA files are readable and its own directory writable', async () => {
    const l = chain.layout;
    const report = await insideReport();
    expect(report.reached[l.caCertFile]).to.equal('read');
    expect(report.reached[l.caBundleFile]).to.equal('read');
    expect(report.reached[`write ${join(hopDir(), 'own-file')}`]).to.equal('written');
    expect(readFileSync(join(hopDir(), 'own-file'), 'utf8')).to.equal('planted');
  });

  it('the next `up` writes its files anew, through no link the hop left in its directory', async () => {
    const report = await insideReport();
    expect(report.reached['link conf.txt']).to.equal('linked');
    const conf = join(hopDir(), 'conf.txt');
    const down = await chain.cli(['down']);
    expect(down.code, down.stderr).to.equal(0);
    expect(lstatSync(conf).isSymbolicLink(), 'the link the hop planted, there before the next up').to.equal(true);
    rmSync(join(hopDir(), 'report.json'), { force: true });
    const up = await chain.cli(['up', '-d'], { ANTHROPIC_API_KEY: REAL_KEY });
    expect(up.code, up.stderr).to.equal(0);
    expect(readFileSync(linkVictim, 'utf8'), 'the file the link led to').to.equal('unchanged');
    // The hop has started again and planted its link again: up replaced it first, or the file would say so.
    await insideReport();
    expect(readFileSync(linkVictim, 'utf8')).to.equal('unchanged');
  });
});
