// A shared NATS run with the authorization block docs/deployment.md gives (taken from the page itself):
// a chain with a central ledger and one with its own writer both work with nothing more than their own
// user's permissions, `moat ledger serve` with its own, and one chain's user cannot publish into, read
// or delete the other's stream.
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, MOAT_BIN, egressTo } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';
import { tmpDir } from '../helpers/tmp';
import { freePort, waitForPort } from '../../supervisor/chain/ports';
import { Ledger } from '../../supervisor/ledger/ledger';
import { natsConnection } from '../../hops/events/nats-url';
import { SUBJECTS } from '../../hops/events/subjects';
import { REPO_ROOT } from '../helpers/repo-root';

const DEPLOYMENT_MD = join(REPO_ROOT, 'docs', 'deployment.md');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The nats-server config of docs/deployment.md with a user per chain (its local-ledger lines in when asked). */
export function documentedConfig(
  port: number,
  storeDir: string,
  chains: { name: string; localLedger: boolean }[],
): string {
  const page = readFileSync(DEPLOYMENT_MD, 'utf8');
  const block = /```\n(# nats-server\.conf[\s\S]*?)```/.exec(page)![1];
  const lines = block.split('\n');
  const chainStart = lines.findIndex((l) => l.includes('# chain agent-1'));
  const serveStart = lines.findIndex((l) => l.includes('# moat ledger serve'));
  const chainUser = lines.slice(chainStart, serveStart).join('\n');
  const users = chains.map(({ name, localLedger }) => {
    let text = chainUser.split('agent-1').join(name).split('agent_1').join(name.replace(/-/g, '_'));
    if (localLedger) text = text.replace(/^(\s*)# ("\$JS)/gm, '$1$2');
    return text.replace('"$2a$11$..."', JSON.stringify(`pw-${name}`));
  });
  const serve = lines.slice(serveStart).join('\n').replace('"$2a$11$..."', '"pw-ledger"');
  return [
    `listen: "127.0.0.1:${port}"`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    ...lines.slice(0, chainStart).filter((l) => !l.startsWith('#')),
    ...users,
    serve,
  ].join('\n');
}

describe('shared NATS with the documented per-chain authorization', function () {
  this.timeout(180_000);
  const work = tmpDir('moat-sharedauth-');
  const dir = join(work.path, 'ledgers');
  let provider: FakeProvider;
  let nats: ChildProcess;
  let serve: ChildProcess | undefined;
  let serveOutput = '';
  let port = 0;
  const central = new CliChain('alpha');
  const local = new CliChain('gamma-1');
  const url = (user: string) => `nats://${user}:pw-${user}@127.0.0.1:${port}`;

  const config = (chain: CliChain, ledger: string) => `name: ${chain.chainName}
proxies: [moat-telemetry]
dashboard:
  enabled: false
events:
  nats_url: ${url(chain.chainName)}
  ledger: ${ledger}
${egressTo(provider.port)}
`;

  async function send(chain: CliChain, count: number): Promise<number[]> {
    const agent = await chain.agent();
    const statuses: number[] = [];
    for (let i = 0; i < count; i++)
      statuses.push((await timedRequest(agent, 'https://api.anthropic.com/v1/models')).status);
    await agent.close();
    return statuses;
  }

  async function count(file: string, expected: number): Promise<number> {
    let n = 0;
    for (let i = 0; i < 200; i++) {
      if (existsSync(file)) {
        const l = await Ledger.open(file, true);
        n = await l.count().finally(() => l.close());
      }
      if (n >= expected) break;
      await sleep(100);
    }
    return n;
  }

  before(async () => {
    provider = await new FakeProvider().start();
    port = await freePort();
    const conf = join(work.path, 'nats.conf');
    writeFileSync(
      conf,
      documentedConfig(port, join(work.path, 'nats'), [
        { name: 'alpha', localLedger: false },
        { name: 'gamma-1', localLedger: true },
      ]),
      { mode: 0o600 },
    );
    nats = spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
    expect(await waitForPort(port, 10_000)).to.equal(true);
    central.writeConfig(config(central, 'central'));
    local.writeConfig(config(local, 'local'));
    await central.up();
    await local.up();
  });

  after(async () => {
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve!.once('exit', r));
      serve.kill('SIGKILL');
      await exited;
    }
    await central.cleanup();
    await local.cleanup();
    nats?.kill('SIGKILL');
    await provider?.stop();
    work.remove();
  });

  it(
    'both chains record with only their own user: a central ' + 'ledger through serve, a local one through its writer',
    async () => {
      serve = spawn(process.execPath, [MOAT_BIN, 'ledger', 'serve', '--dir', dir, '--chains', 'alpha'], {
        env: { ...process.env, MOAT_NATS_URL: url('ledger') },
      });
      serve.stdout!.on('data', (d: Buffer) => (serveOutput += d.toString()));
      serve.stderr!.on('data', (d: Buffer) => (serveOutput += d.toString()));
      const statuses = [...(await send(central, 5)), ...(await send(local, 5))];
      expect(statuses.every((s) => s === 200)).to.equal(true);
      expect(await count(join(dir, 'alpha', 'ledger.db'), 20), serveOutput).to.equal(20);
      expect(await count(local.layout.ledgerFile, 20)).to.equal(20);
      // The documented lines let each writer keep its signed head in the chain's bucket, and verify reads it there.
      let verify = await local.cli(['verify']);
      for (let i = 0; i < 40 && !/NATS key-value/.test(verify.stdout.split('held')[1] ?? ''); i++) {
        await sleep(250);
        verify = await local.cli(['verify']);
      }
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
      expect(verify.stdout).to.match(
        /head seq \d+\/\d+ held \(ledger-head\.json, NATS key-value MOAT_gamma_1_heads\/ledger\)/,
      );
      let centralVerify: { code: number; stdout: string } = { code: 1, stdout: '' };
      for (let i = 0; i < 40 && !/\/\d+ held/.test(centralVerify.stdout); i++) {
        await sleep(250);
        centralVerify = await new Promise((resolve) =>
          execFile(
            process.execPath,
            [MOAT_BIN, 'ledger', 'verify', '--dir', dir, '--chain', 'alpha'],
            { env: { ...process.env, MOAT_NATS_URL: url('ledger') } },
            (err, stdout) => resolve({ code: err ? 1 : 0, stdout }),
          ),
        );
      }
      expect(centralVerify.stdout, serveOutput).to.match(
        /held \(ledger-head\.json, NATS key-value MOAT_alpha_heads\/ledger_central_[0-9a-f]{16}\)/,
      );
      expect(serveOutput).to.not.match(/heads bucket|cannot put the head/);
      const status = await local.cli(['status', '--json']);
      expect(status.code, status.stderr).to.equal(0);
      expect(JSON.parse(status.stdout).find((r: any) => r.role === 'ledger').health.state).to.equal('ok');
    },
  );

  it("one chain's user cannot publish into, read or delete another chain's stream, nor delete its own", async () => {
    const nc: NatsConnection = await connect({ ...natsConnection(url('alpha')), timeout: 3000 });
    const refused: string[] = [];
    try {
      let published = true;
      await nc
        .jetstream()
        .publish(SUBJECTS.burst('gamma-1', 1), new TextEncoder().encode('{}'), { timeout: 1500 })
        .catch(() => (published = false));
      expect(published).to.equal(false);
      const sub = nc.subscribe(SUBJECTS.chain('gamma-1'));
      const reading = (async () => {
        for await (const _ of sub) expect.fail('read an event of another chain');
      })().catch((err: Error) => refused.push(err.message));
      await nc.flush();
      await send(local, 1);
      await sleep(300);
      const jsm = await nc.jetstreamManager();
      for (const stream of [SUBJECTS.stream('gamma-1'), SUBJECTS.stream('alpha')]) {
        let deleted = true;
        await jsm.streams.delete(stream).catch(() => (deleted = false));
        expect(deleted, stream).to.equal(false);
      }
      sub.unsubscribe();
      await reading;
    } finally {
      await nc.close();
    }
    expect(refused.join('\n')).to.contain('Permissions Violation for Subscription to "moat.gamma-1.>"');
  });
});
