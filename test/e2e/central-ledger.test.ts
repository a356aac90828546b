// Several chains, one NATS, one central `moat ledger serve` (issue 8, beyond one machine): chains in
// separate MOAT_HOMEs (as on separate machines) publish to one nats-server that asks for a password;
// serve writes one ledger per chain into its directory, survives kill -9 without losing or doubling
// an event, picks up a chain that starts later, and no output or log shows the password.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { Serve, ledgerCli as runLedger } from '../helpers/ledger-serve';
import { readdirSync, readFileSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo, isAlive, type CliResult } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';
import { tmpDir } from '../helpers/tmp';
import { passwordNats } from '../helpers/password-nats';
import { Ledger } from '../../supervisor/ledger/ledger';

// proxies: [moat-telemetry]: boundaries 0 and 1, each a request and a response event.
const EVENTS_PER_REQUEST = 4;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path);
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

describe('central ledger: several chains, one NATS, one moat ledger serve', function () {
  this.timeout(240_000);
  const work = tmpDir('moat-central-');
  const dir = join(work.path, 'ledgers');
  let provider: FakeProvider;
  let nats: ChildProcess;
  let natsUrl = '';
  const chains = {
    alpha: new CliChain('alpha'),
    beta: new CliChain('beta'),
    gamma: new CliChain('gamma'),
    delta: new CliChain('delta'),
    twin: new CliChain('alpha'),
    epsilon: new CliChain('epsilon'),
    zeta: new CliChain('zeta'),
  };
  const serves: Serve[] = [];
  const outputs: CliResult[] = [];

  const config = (chain: CliChain, ledger = 'central') => `name: ${chain.chainName}
proxies: [moat-telemetry]
dashboard:
  enabled: false
events:
  nats_url: ${natsUrl}
  ledger: ${ledger}
${egressTo(provider.port)}
`;

  async function send(chain: CliChain, count: number, during?: { at: number; run: () => void }): Promise<number[]> {
    const agent = await chain.agent();
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < count) {
          next++;
          statuses.push((await timedRequest(agent, 'https://api.anthropic.com/v1/models')).status);
          if (during && statuses.length === during.at) during.run();
        }
      }),
    );
    await agent.close();
    return statuses;
  }

  async function ledgerCount(chain: string, file = join(dir, chain, 'ledger.db')): Promise<number> {
    if (!existsSync(file)) return 0;
    // A ledger file appears with its tables (ledger.ts), so one that exists can be counted at once.
    const l = await Ledger.open(file, true);
    try {
      return await l.count();
    } finally {
      await l.close();
    }
  }

  /**
   * The ledger's row count once it reaches `expected` (or after 30 s), and again a moment later: nothing more arrives.
   */
  async function settledCount(chain: string, expected: number, file?: string): Promise<number> {
    for (let i = 0; i < 300 && (await ledgerCount(chain, file)) < expected; i++)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    return ledgerCount(chain, file);
  }

  async function ledgerCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const res = await runLedger(args, env);
    outputs.push(res);
    return res;
  }

  async function chainCli(chain: CliChain, args: string[]): Promise<CliResult> {
    const res = await chain.cli(args);
    outputs.push(res);
    return res;
  }

  before(async () => {
    provider = await new FakeProvider().start();
    ({ process: nats, url: natsUrl } = await passwordNats(join(work.path, 'nats'), PASSWORD));
    for (const c of [chains.alpha, chains.beta]) {
      c.writeConfig(config(c));
      outputs.push(await c.up());
    }
  });

  after(async () => {
    for (const s of serves) await s.kill('SIGKILL');
    for (const c of Object.values(chains)) await c.cleanup();
    nats?.kill('SIGKILL');
    await provider?.stop();
    work.remove();
  });

  it(
    'requests through two chains land in two ledgers in DIR, ' + 'each with exactly its events, and both verify',
    async () => {
      const serve = new Serve(['--nats', natsUrl, '--dir', dir]);
      serves.push(serve);
      await serve.start();
      const [a, b] = await Promise.all([send(chains.alpha, 20), send(chains.beta, 15)]);
      expect([...a, ...b].filter((s) => s !== 200)).to.deep.equal([]);
      expect(await settledCount('alpha', 20 * EVENTS_PER_REQUEST)).to.equal(20 * EVENTS_PER_REQUEST);
      expect(await settledCount('beta', 15 * EVENTS_PER_REQUEST)).to.equal(15 * EVENTS_PER_REQUEST);
      // Each ledger holds its own chain's events only.
      const events = await ledgerCli(['events', '--dir', dir, '--chain', 'beta', '--json']);
      expect(events.code, events.stderr).to.equal(0);
      const chainsSeen = new Set(
        events.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).chain),
      );
      expect([...chainsSeen]).to.deep.equal(['beta']);

      const verify = await ledgerCli(['verify', '--dir', dir]);
      expect(verify.code, verify.stderr).to.equal(0);
      expect(verify.stdout)
        .to.match(/chain alpha: .*: ok, 80 rows/)
        .and.match(/chain beta: .*: ok, 60 rows/);
      expect(verify.stdout).to.match(
        new RegExp(
          /chain alpha: .*; head seq \d+ held \(ledger-head\.json\); NATS key-value /.source +
            /MOAT_alpha_heads\/ledger_central_[0-9a-f]{16} not checked: no --nats URL/.source,
        ),
      );
      // With the NATS (from the environment), serve's head there is checked too.
      const withNats = await ledgerCli(['verify', '--dir', dir, '--chain', 'alpha'], { MOAT_NATS_URL: natsUrl });
      expect(withNats.code, withNats.stderr).to.equal(0);
      expect(withNats.stdout).to.match(
        new RegExp(
          /chain alpha: .*: ok, 80 rows, .*; head seq \d+\/\d+ held \(ledger-head\.json, NATS key-value /.source +
            /MOAT_alpha_heads\/ledger_central_[0-9a-f]{16}\)/.source,
        ),
      );
      // Each ledger's signing key lives next to it.
      for (const c of ['alpha', 'beta']) {
        expect(statSync(join(dir, c, 'ledger-key.pem')).mode & 0o777).to.equal(0o600);
        expect(existsSync(join(dir, c, 'ledger-key.pub.pem'))).to.equal(true);
      }
      // The chains run no ledger writer of their own.
      expect((await chains.alpha.status()).map((r) => r.name)).to.not.include('ledger-writer');
    },
  );

  it('on a chain with a central ledger, status and verify say where the ledger is', async () => {
    const status = await chainCli(chains.alpha, ['status']);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.contain('ledger: central, written by `moat ledger serve` from nats://***@127.0.0.1:');
    const verify = await chainCli(chains.alpha, ['verify']);
    expect(verify.code).to.equal(1);
    expect(verify.stderr)
      .to.contain('MOAT_ERR_LEDGER_CENTRAL')
      .and.contain('moat ledger verify --dir DIR --chain alpha');
  });

  it('serve killed with -9 mid-burst and started again: no event lost, none stored twice', async () => {
    const first = serves[0];
    const statuses = await Promise.all([
      send(chains.alpha, 60, { at: 20, run: () => void first.kill('SIGKILL') }),
      send(chains.beta, 40),
    ]);
    expect(statuses.flat().filter((s) => s !== 200)).to.deep.equal([]);
    await first.kill('SIGKILL');
    expect(isAlive(first.pid)).to.equal(false);
    // Started again from the environment (the way to keep credentials off command lines).
    const again = new Serve(['--dir', dir], { MOAT_NATS_URL: natsUrl });
    serves.push(again);
    await again.start();
    expect(again.output).to.not.contain('MOAT_ERR_LEDGER_DIR_BUSY');
    expect(await settledCount('alpha', 80 * EVENTS_PER_REQUEST)).to.equal(80 * EVENTS_PER_REQUEST);
    expect(await settledCount('beta', 55 * EVENTS_PER_REQUEST)).to.equal(55 * EVENTS_PER_REQUEST);
    const verify = await ledgerCli(['verify', '--dir', dir]);
    expect(verify.code, verify.stderr).to.equal(0);
  });

  it('a second serve on the same directory is refused', async () => {
    const res = await ledgerCli(['serve', '--dir', dir], { MOAT_NATS_URL: natsUrl });
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('MOAT_ERR_LEDGER_DIR_BUSY');
  });

  it('a chain started after serve is picked up', async () => {
    chains.gamma.writeConfig(config(chains.gamma));
    outputs.push(await chains.gamma.up());
    expect((await send(chains.gamma, 5)).filter((s) => s !== 200)).to.deep.equal([]);
    expect(await settledCount('gamma', 5 * EVENTS_PER_REQUEST)).to.equal(5 * EVENTS_PER_REQUEST);
    const verify = await ledgerCli(['verify', '--dir', dir, '--chain', 'gamma']);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(serves[1].output).to.contain('[gamma] serving stream MOAT_gamma');
  });

  it('a chain whose ledger cannot be opened holds up no other chain: one found after it is still served', async () => {
    // A directory where the ledger file should be: SQLite cannot open it.
    mkdirSync(join(dir, 'epsilon', 'ledger.db'), { recursive: true });
    for (const c of [chains.epsilon, chains.zeta]) {
      c.writeConfig(config(c));
      outputs.push(await c.up());
    }
    expect((await send(chains.zeta, 3)).filter((s) => s !== 200)).to.deep.equal([]);
    expect(await settledCount('zeta', 3 * EVENTS_PER_REQUEST)).to.equal(3 * EVENTS_PER_REQUEST);
    const said = serves[1].output.split('\n').filter((l) => l.includes('[epsilon] cannot start its writer'));
    expect(said, serves[1].output).to.have.length(1); // said once, not every discovery round
    await chains.epsilon.cleanup();
    await chains.zeta.cleanup();
  });

  it(
    'a chain with a local ledger on the shared NATS: its own writer and serve each get every event, none split ' +
      'between them',
    async () => {
      chains.delta.writeConfig(config(chains.delta, 'local'));
      outputs.push(await chains.delta.up());
      expect((await chains.delta.status()).map((r) => r.name)).to.include('ledger-writer');
      expect((await send(chains.delta, 10)).filter((s) => s !== 200)).to.deep.equal([]);
      expect(await settledCount('delta', 10 * EVENTS_PER_REQUEST)).to.equal(10 * EVENTS_PER_REQUEST);
      expect(await settledCount('delta', 10 * EVENTS_PER_REQUEST, chains.delta.layout.ledgerFile)).to.equal(
        10 * EVENTS_PER_REQUEST,
      );
      const verify = await chainCli(chains.delta, ['verify']);
      expect(verify.code, verify.stderr).to.equal(0);
      expect(verify.stdout).to.contain(`ok, ${10 * EVENTS_PER_REQUEST} rows`);
    },
  );

  it(
    'a chain of the same name from another machine or home is ' + "refused: it would merge into the first one's ledger",
    async () => {
      chains.twin.writeConfig(config(chains.twin));
      const res = await chainCli(chains.twin, ['up', '-d']);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.contain('MOAT_ERR_CHAIN_NAME_TAKEN').and.contain(chains.alpha.layout.stateDir);
      // Nothing of it was left running, and alpha's ledger did not move.
      expect(chains.twin.daemonPid() === undefined || !isAlive(chains.twin.daemonPid()!)).to.equal(true);
      expect(await ledgerCount('alpha')).to.equal(80 * EVENTS_PER_REQUEST);
    },
  );

  it('`moat ledger release` frees the name of a chain that has moved for good, once', async () => {
    const released = await ledgerCli(['release', '--chain', 'alpha'], { MOAT_NATS_URL: natsUrl });
    expect(released.code, released.stderr).to.equal(0);
    expect(released.stdout)
      .to.contain(`chain alpha: released (it belonged to `)
      .and.contain(chains.alpha.layout.stateDir);
    const again = await ledgerCli(['release', '--chain', 'alpha'], { MOAT_NATS_URL: natsUrl });
    expect(again.stdout).to.contain('chain alpha: no claim to release');
    const unknown = await ledgerCli(['release', '--chain', 'nosuch'], { MOAT_NATS_URL: natsUrl });
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain('MOAT_ERR_NO_LEDGER');
  });

  it('the NATS password appears in no output and no log', async () => {
    const plan = await chainCli(chains.alpha, ['plan', '--json']);
    expect(plan.code, plan.stderr).to.equal(0);
    const texts = [...outputs.flatMap((o) => [o.stdout, o.stderr]), ...serves.map((s) => s.output)];
    // Logs, plan.json, pm2's own log: every file the chains wrote but the 0600 spec files the processes start from.
    for (const c of [chains.alpha, chains.beta, chains.gamma, chains.delta]) {
      for (const file of [...filesUnder(c.layout.stateDir), ...filesUnder(c.layout.pm2Home)]) {
        if (file.startsWith(c.layout.runDir) && file.endsWith('.json')) {
          expect(statSync(file).mode & 0o077, file).to.equal(0);
          continue;
        }
        if (/\.(sock|db|db-wal|db-shm)$/.test(file)) continue;
        texts.push(readFileSync(file, 'utf8'));
      }
    }
    texts.push(
      ...filesUnder(dir)
        .filter((f) => !/\.db/.test(f))
        .map((f) => readFileSync(f, 'utf8')),
    );
    expect(texts.length).to.be.greaterThan(20);
    for (const t of texts) expect(t).to.not.contain(PASSWORD);
    expect(texts.join('\n')).to.contain('nats://***@127.0.0.1:');
  });
});
