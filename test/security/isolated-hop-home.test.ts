// An isolated hop runs as the user, and the user's home holds the keys moat keeps from hops: a shell profile that
// exports the provider key `up` reads, the agents' own logins (~/.claude, ~/.codex), ssh and cloud keys, a project's
// .env. A hostile hop installed in that home (a link in ~/.npm-global/bin to its package's script, as npm would make)
// tries to read them: inside its namespaces the home is empty but for the install its program belongs to, and it
// still starts from there; a link it leaves at a path its command names brings nothing back at its next start. The
// same reads made from outside get every file (the control).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { DIST_DIR } from '../helpers/repo-root';
import { skipWithoutNamespaces } from '../helpers/namespaces';
import { pry, type PryReport, type PryTargets } from '../fixtures/prying-hop';

const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

describe("security: an isolated hop reads none of the user's home but the install its program belongs to", function () {
  this.timeout(120_000);
  before(function () {
    skipWithoutNamespaces(this);
  });

  // The user's home, out of /tmp (which the hop sees fresh anyway): `up` runs with HOME here.
  const home = realpathSync(mkdtempSync('/var/tmp/moat-home-'));
  const file = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const keys = [
    file(join(home, '.profile'), `export ANTHROPIC_API_KEY=${REAL_KEY}\n`),
    file(join(home, '.claude', '.credentials.json'), JSON.stringify({ accessToken: REAL_KEY })),
    file(join(home, '.codex', 'auth.json'), JSON.stringify({ OPENAI_API_KEY: REAL_KEY })),
    file(join(home, '.ssh', 'id_ed25519'), `-----BEGIN OPENSSH PRIVATE KEY-----\n${REAL_KEY}\n`),
    file(join(home, 'project', '.env'), `ANTHROPIC_API_KEY=${REAL_KEY}\n`),
  ];
  // The hop, installed in the home as `npm install -g` with a prefix there would: its package under
  // ~/.npm-global/lib/node_modules (an entry script and the module it loads beside it, found from the script's real
  // path), a link to the entry in ~/.npm-global/bin, run by the `node` that PATH finds (#!/usr/bin/env node).
  const packageDir = join(home, '.npm-global', 'lib', 'node_modules', 'prying');
  const script = file(
    join(packageDir, 'prying-hop.js'),
    readFileSync(join(DIST_DIR, 'test', 'fixtures', 'prying-hop.js'), 'utf8'),
  );
  const entry = file(join(packageDir, 'cli.js'), "#!/usr/bin/env node\nvoid require('./prying-hop.js').main();\n");
  chmodSync(entry, 0o755);
  const binary = join(home, '.npm-global', 'bin', 'prying');
  mkdirSync(dirname(binary));
  symlinkSync('../lib/node_modules/prying/cli.js', binary);
  const targets: PryTargets = {
    files: [...keys, script],
    dirs: [home, join(home, '.ssh')],
    sockets: [],
    writes: [],
    // `{dir}/data` is a word of its command: a link there to ~/.ssh, for its next start to bring back.
    links: { data: join(home, '.ssh') },
  };

  const { chain } = chainFixture({
    name: 'prying-home',
    env: { HOME: home },
    config: (provider) => `name: prying-home
proxies:
  - name: prying
    command: ["${binary}", --port, "{port}", --report, "{dir}/report.json", --data, "{dir}/data"]
    env:
      PRY_TARGETS: '${JSON.stringify(targets)}'
    tls: plain
  - moat-policy
grants: [anthropic]
${egressTo(provider.port)}
`,
    up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  async function insideReport(): Promise<PryReport> {
    const report = join(chain.layout.hopDir(1, 'prying'), 'report.json');
    for (let i = 0; i < 100 && !existsSync(report); i++) await new Promise((r) => setTimeout(r, 100));
    return JSON.parse(readFileSync(report, 'utf8')) as PryReport;
  }

  it('from outside the same reads get every key in the home (the control)', async () => {
    // Its links are the hop's move, planted in its working directory: not made here.
    const outside = await pry({ ...targets, links: {} });
    for (const target of [...targets.files, ...targets.dirs])
      expect(outside.reached[target], target).to.be.oneOf(['read', 'listed']);
  });

  it("inside, the profile, the agents' logins, ssh's key and a project's .env are not there", async () => {
    const report = await insideReport();
    for (const key of keys) expect(report.reached[key], key).to.equal('ENOENT');
    expect(report.reached[join(home, '.ssh')]).to.equal('ENOENT');
  });

  it('inside, the hop started from its link in the home, and reads the install it belongs to', async () => {
    const report = await insideReport();
    expect(report.reached[script]).to.equal('read');
    expect(report.reached[home]).to.equal('listed');
  });

  it('a link the hop left at a path of its command brings back nothing at its next start', async () => {
    const report = await insideReport();
    expect(report.reached['link data']).to.equal('linked');
    const down = await chain.cli(['down']);
    expect(down.code, down.stderr).to.equal(0);
    rmSync(join(chain.layout.hopDir(1, 'prying'), 'report.json'), { force: true });
    const up = await chain.cli(['up', '-d'], { ANTHROPIC_API_KEY: REAL_KEY });
    expect(up.code, up.stderr).to.equal(0);
    const again = await insideReport();
    expect(again.reached[join(home, '.ssh', 'id_ed25519')]).to.equal('ENOENT');
    expect(again.reached[join(home, '.ssh')]).to.equal('ENOENT');
  });
});
