// Issue 19: the grant store and the delivery of keys to egress, attacked as an agent of the same user would. Each
// test fails without its protection: a key on the command line is refused (not stored); an entry pointed at the
// agent's host, a forged entry or a store swapped from elsewhere is refused whole (MOAT_ERR_GRANT_STORE, nothing
// started); a key from the environment of `up` is in no process's environment (egress's included); egress's sealed
// secrets with two keys swapped are refused at egress's restart, so neither key goes to the other grant's host.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { CliChain, egressTo, processesMentioning } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { grantCli } from '../helpers/grant-cli';
import { tmpDir } from '../helpers/tmp';

const ENV_KEY = `sk-ant-api03-FROMENV${randomBytes(24).toString('hex')}`;
const STORED_KEY = `xk-STORED${randomBytes(24).toString('hex')}`;
const EXAMPLE = ['--host', 'api.example.com', '--header', 'x-example-key'];

describe('security: the grant store, attacked', function () {
  this.timeout(60_000);
  const chain = new CliChain('gsec', { MOAT_GRANT_KEYRING: 'off' });
  after(() => chain.cleanup());

  const storeFile = () => join(chain.home, 'grants.json');
  const config =
    'name: gsec\nproxies: [moat-telemetry]\ngrants:\n  - {host: api.example.com, header: x-example-key, env: EX_KEY}\n';

  beforeEach(() => {
    chain.writeConfig(config);
    rmSync(storeFile(), { force: true }); // the last test's tampered store
    expect(grantCli(chain, ['add', 'example', ...EXAMPLE], STORED_KEY).code).to.equal(0);
  });

  it('a key on the command line is refused and not stored, in any spelling', () => {
    for (const args of [
      ['add', 'anthropic', ENV_KEY],
      ['add', 'anthropic', `--key=${ENV_KEY}`],
      ['add', 'anthropic', '--key', ENV_KEY],
    ]) {
      const res = grantCli(chain, args, 'sk-from-stdin');
      expect(res.code, args.join(' ')).to.equal(2);
      expect(res.stderr).to.contain('MOAT_ERR_USAGE');
    }
    const list = grantCli(chain, ['list', '--json']);
    expect(JSON.parse(list.stdout).grants.map((g: any) => g.name)).to.deep.equal(['example']);
  });

  /** `moat grant list` and `moat chain up` both refuse the store, name it, show no key and start nothing. */
  async function expectRefused(why: string): Promise<void> {
    const list = grantCli(chain, ['list']);
    expect(list.code).to.equal(1);
    expect(list.stderr).to.contain(`moat: ${storeFile()}: `).and.contain(why).and.contain('MOAT_ERR_GRANT_STORE');
    const up = await chain.cli(['up', '-d'], { EX_KEY: '' });
    expect(up.code).to.equal(1);
    expect(up.stderr).to.contain(storeFile()).and.contain('(MOAT_ERR_GRANT_STORE)');
    for (const out of [list.stdout, list.stderr, up.stdout, up.stderr]) expect(out).to.not.contain(STORED_KEY);
    expect(chain.daemonPid()).to.equal(undefined);
  }

  it("an entry pointed at the agent's own host is refused (the key would go there)", async () => {
    const parsed = JSON.parse(readFileSync(storeFile(), 'utf8'));
    parsed.entries.example.host = 'agent.example.net';
    writeFileSync(storeFile(), JSON.stringify(parsed));
    await expectRefused('entry "example" does not authenticate');
  });

  it("a forged entry (copied under another name, or sealed under the agent's own key) is refused", async () => {
    const parsed = JSON.parse(readFileSync(storeFile(), 'utf8'));
    parsed.entries.copy = { ...parsed.entries.example, name: 'copy', host: 'copy.example' };
    writeFileSync(storeFile(), JSON.stringify(parsed));
    await expectRefused('entry "copy" does not authenticate');
  });

  it("a store swapped in from another MOAT_HOME (the agent's, with its key) is refused", async () => {
    const other = tmpDir();
    try {
      const res = grantCli({ env: { ...process.env, MOAT_HOME: other.path } }, ['add', 'evil', ...EXAMPLE], 'x-evil');
      expect(res.code, res.stderr).to.equal(0);
      copyFileSync(join(other.path, 'grants.json'), storeFile());
      await expectRefused('does not authenticate');
    } finally {
      other.remove();
    }
  });

  it('a damaged store (cut short) is refused, never half-read', async () => {
    const text = readFileSync(storeFile(), 'utf8');
    writeFileSync(storeFile(), text.slice(0, text.length - 40));
    await expectRefused('is not JSON');
  });
});

describe('security: delivering keys to egress, attacked', function () {
  this.timeout(180_000);
  const { chain, provider } = chainFixture({
    name: 'gdel',
    env: { MOAT_GRANT_KEYRING: 'off' },
    config: (p) =>
      `name: gdel\nproxies: [moat-telemetry]\ngrants:\n  - anthropic\n` +
      `  - {host: api.example.com, header: x-example-key, env: EX_KEY}\n` +
      `${egressTo(p.port, ['api.anthropic.com', 'api.example.com'])}\n`,
    up: false,
  });
  const KEYS = [ENV_KEY, STORED_KEY];

  before(async () => {
    expect(grantCli(chain, ['add', 'example', ...EXAMPLE], STORED_KEY).code).to.equal(0);
    // One key from the environment of `up` (it wins over the store, as before), one from the store.
    await chain.up({ ANTHROPIC_API_KEY: ENV_KEY, EX_KEY: '' });
  });

  async function send(host: string, header: string, placeholder: string): Promise<number> {
    const agent = await chain.agent();
    try {
      const res = await request(`https://${host}/v1/models`, { dispatcher: agent, headers: { [header]: placeholder } });
      await res.body.text();
      return res.statusCode;
    } catch {
      return 0;
    } finally {
      await agent.close();
    }
  }
  const placeholders = () => JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).placeholders;

  it("a key from up's environment is in no process's environment or command line, egress's included", async () => {
    expect(await send('api.anthropic.com', 'x-api-key', placeholders().ANTHROPIC_API_KEY)).to.equal(200);
    expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(ENV_KEY);
    const egress = (await chain.status()).find((r) => r.role === 'egress')!;
    const pids = new Set([egress.pid as number, chain.daemonPid()!, ...processesMentioning(chain.home)]);
    for (const pid of pids)
      for (const what of ['environ', 'cmdline']) {
        const text = readFileSync(`/proc/${pid}/${what}`, 'latin1');
        for (const k of KEYS) expect(text, `${pid} ${what}`).to.not.contain(k);
      }
  });

  it("up's step trace (MOAT_UP_TRACE) holds no key, and only its owner can read it", () => {
    const trace = readFileSync(chain.upTraceFile, 'utf8');
    expect(trace).to.contain('ingress accepts');
    for (const k of KEYS) expect(trace).to.not.contain(k);
    expect(statSync(chain.upTraceFile).mode & 0o077, 'no group or other access').to.equal(0);
  });

  it("egress's sealed secrets with the two keys swapped are refused at its restart: no key to the other host", async () => {
    const file = chain.layout.egressSecretsFile;
    const original = readFileSync(file, 'utf8');
    const parsed = JSON.parse(original);
    const [a, b] = Object.keys(parsed.entries);
    [parsed.entries[a], parsed.entries[b]] = [parsed.entries[b], parsed.entries[a]];
    writeFileSync(file, JSON.stringify(parsed));
    const seen = provider.seen.length;
    const egress = (await chain.status()).find((r) => r.role === 'egress')!;
    process.kill(egress.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 2500)); // pm2 restarts it (200 ms delay); it refuses, again and again
    const ph = placeholders();
    await send('api.anthropic.com', 'x-api-key', ph.ANTHROPIC_API_KEY);
    await send('api.example.com', 'x-example-key', ph.EX_KEY);
    const after = provider.seen.slice(seen);
    expect(after.filter((r) => r.headers['x-api-key'] === STORED_KEY)).to.deep.equal([]);
    expect(after.filter((r) => r.headers['x-example-key'] === ENV_KEY)).to.deep.equal([]);
    expect(after).to.have.length(0);
    const log = readFileSync(join(chain.layout.logDir, `${egressId(chain.layout.runDir)}.log`), 'utf8');
    expect(log).to.contain(`${file}: entry`).and.contain('does not authenticate').and.contain('(MOAT_ERR_GRANT_STORE)');
    for (const k of KEYS) expect(log).to.not.contain(k);
    // Put back, egress comes back with the right keys (pm2 keeps restarting it).
    writeFileSync(file, original);
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      status = await send('api.example.com', 'x-example-key', ph.EX_KEY);
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).to.equal(200);
    expect(provider.seen.at(-1)!.headers['x-example-key']).to.equal(STORED_KEY);
  });
});

/** Egress's process id in the plan (its log is logs/<id>.log). */
function egressId(runDir: string): string {
  const plan = JSON.parse(readFileSync(join(runDir, '..', 'plan.json'), 'utf8'));
  return plan.processes.find((p: any) => p.role === 'egress').id;
}
