// Issue 19: a chain whose only source of the key is the grant store (`moat grant add`, piped). The key reaches the
// provider through egress, and nothing else holds it: no process of the chain (egress included) in its environment or
// command line, not `pm2 jlist` / `pm2 show`, no file of MOAT_HOME in clear (logs, plan, specs, ledger, the store and
// egress's sealed secrets), not plan/status/list output. Egress killed with SIGKILL and restarted by pm2 still
// injects it (it opens its sealed secrets at every start).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { egressTo, processesMentioning } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { chainFiles, holdersOf } from '../helpers/key-holders';
import { grantCli, pm2Cli } from '../helpers/grant-cli';

const REAL_KEY = `sk-ant-api03-STORED${randomBytes(24).toString('hex')}`;

describe('grant store: a chain whose only key is in the store', function () {
  const { chain, provider } = chainFixture({
    up: false,
    name: 'gstore',
    env: { MOAT_GRANT_KEYRING: 'off' },
    config: (p) => `name: gstore\nproxies: [moat-telemetry]\ngrants: [anthropic]\n${egressTo(p.port)}\n`,
  });
  this.timeout(180_000);
  // The agent's placeholder for ANTHROPIC_API_KEY, from the plan `up` wrote.
  let placeholder = '';

  before(async () => {
    const added = grantCli(chain, ['add', 'anthropic'], `${REAL_KEY}\n`);
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout).to.contain('grant anthropic stored').and.contain('store key: in the file');
    // The environment holds no key: only the store can give it.
    await chain.up({ ANTHROPIC_API_KEY: '' });
    placeholder = JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).placeholders.ANTHROPIC_API_KEY;
  });

  async function send(): Promise<number> {
    const agent = await chain.agent();
    try {
      const res = await request('https://api.anthropic.com/v1/models', {
        dispatcher: agent,
        headers: { 'x-api-key': placeholder },
      });
      await res.body.text();
      return res.statusCode;
    } finally {
      await agent.close();
    }
  }

  it('egress injects the stored key', async () => {
    expect(await send()).to.equal(200);
    expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(REAL_KEY);
  });

  it('no process of the chain has the key in /proc/PID/environ or cmdline, egress included', async () => {
    const rows = await chain.status();
    const pids = new Set<number>([...rows.map((r) => r.pid as number), chain.daemonPid()!]);
    for (const pid of processesMentioning(chain.home)) pids.add(pid);
    expect(rows.find((r) => r.role === 'egress')?.pid).to.be.greaterThan(0);
    expect(pids.size).to.be.greaterThan(5);
    for (const pid of pids) {
      for (const what of ['environ', 'cmdline']) {
        let text = '';
        try {
          text = readFileSync(`/proc/${pid}/${what}`, 'latin1');
        } catch {
          continue; // exited meanwhile
        }
        expect(text, `${pid} ${what}`).to.not.contain(REAL_KEY);
      }
    }
  });

  it('`pm2 jlist` and `pm2 show egress` do not show it', () => {
    const list = pm2Cli(chain.layout.pm2Home, ['jlist']);
    expect(list.code, list.stderr).to.equal(0);
    const apps = JSON.parse(list.stdout.slice(list.stdout.indexOf('['))) as { name: string }[];
    const egress = apps.find((a) => a.name.endsWith('egress'))!;
    expect(egress, list.stdout.slice(0, 300)).to.not.equal(undefined);
    expect(list.stdout).to.not.contain(REAL_KEY);
    const show = pm2Cli(chain.layout.pm2Home, ['show', egress.name]);
    expect(show.code, show.stderr).to.equal(0);
    expect(show.stdout).to.contain('egress');
    expect(show.stdout + show.stderr).to.not.contain(REAL_KEY);
  });

  it('no file of the chain holds it in clear (logs, plan, specs, ledger, the store, the sealed secrets)', async () => {
    const events = await chain.ledgerEvents((e) => e.host === 'api.anthropic.com', 2);
    expect(events.length).to.be.greaterThan(0);
    const files = chainFiles(chain);
    const rel = files.map((f) => f.slice(chain.home.length + 1));
    expect(rel).to.include.members([
      'grants.json',
      'grants.key',
      'chains/gstore/plan.json',
      'chains/gstore/run/egress.secrets',
      'chains/gstore/links/egress.secrets.key',
      'chains/gstore/ledger.db',
    ]);
    expect(rel.some((f) => f.startsWith('chains/gstore/logs/'))).to.equal(true);
    expect(holdersOf([REAL_KEY], files)).to.deep.equal([]);
  });

  it('plan, status, env and grant list print no key', async () => {
    for (const args of [['plan', '--json'], ['status', '--json'], ['env']]) {
      const res = await chain.cli(args, { ANTHROPIC_API_KEY: '' });
      expect(res.code, `${args[0]}: ${res.stderr}`).to.equal(0);
      expect(res.stdout + res.stderr).to.not.contain(REAL_KEY);
    }
    const list = grantCli(chain, ['list', '--json']);
    expect(list.code).to.equal(0);
    expect(JSON.parse(list.stdout).grants.map((g: any) => g.name)).to.deep.equal(['anthropic']);
    expect(list.stdout).to.not.contain(REAL_KEY);
  });

  it('egress killed with SIGKILL is restarted by pm2 and still injects the key', async () => {
    const before = (await chain.status()).find((r) => r.role === 'egress')!;
    process.kill(before.pid, 'SIGKILL');
    let now = before;
    for (let i = 0; i < 150; i++) {
      now = (await chain.status()).find((r) => r.role === 'egress')!;
      if (now.pid && now.pid !== before.pid && now.state === 'online') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(now.pid).to.not.equal(before.pid);
    expect(now.restarts).to.be.greaterThan(before.restarts);
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await send().catch(() => 0);
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).to.equal(200);
    expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(REAL_KEY);
    expect(readFileSync(`/proc/${now.pid}/environ`, 'latin1')).to.not.contain(REAL_KEY);
  });
});
