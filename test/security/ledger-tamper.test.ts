// Invariant 6, attacked as an agent of the same user would: with the sqlite3 command line on the
// chain's ledger.db. Before, deleting the tail rows together with their checkpoints left a shorter
// ledger that `verify` passed, and editing the unhashed host/trace columns hid rows from
// `events --host/--trace` and the dashboard. Now the newest signed head is kept outside the ledger
// (ledger-head.json next to it, and the chain's NATS), verify checks every row's columns against its
// hashed event, and the readers filter on the event itself.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { join } from 'node:path';
import { connect } from 'nats';
import { headFile, readHeadFile } from '../../supervisor/ledger/head';
import { headStream, headSubject } from '../../supervisor/ledger/head-kv';
import { natsConnection, type NatsIdentity } from '../../hops/events/nats-url';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('security: the ledger cannot lose its tail or hide a row unnoticed', function () {
  this.timeout(180_000);
  const { chain } = chainFixture({ config: (provider) => `proxies: [moat-telemetry]\n${egressTo(provider.port)}\n` });
  /** sqlite3, the command-line shell, as the agent would run it. */
  const sqlite = (statements: string): string =>
    execFileSync('sqlite3', ['-cmd', '.timeout 5000', chain.layout.ledgerFile, statements], {
      encoding: 'utf8',
    }).trim();
  const rowCount = () => Number(sqlite('SELECT COUNT(*) FROM events'));
  let rows = 0;
  const backup = () => `${chain.layout.ledgerFile}.backup`;

  before(async () => {
    const agent = await chain.agent();
    for (let i = 0; i < 6; i++) {
      const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
        method: 'POST',
        body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: `n ${i}` }] }),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).to.equal(200);
    }
    await agent.close();
    // 6 requests x 2 boundaries x request and response, all stored and signed, the head written out.
    for (let i = 0; i < 150; i++) {
      const head = readHeadFile(headFile(chain.layout.ledgerFile));
      rows = rowCount();
      if (rows >= 24 && 'head' in head && head.head.seq === rows) break;
      await sleep(100);
    }
    expect(rows).to.equal(24);
  });

  it(
    'an edited host or trace column: verify names the row, and events, the dashboard still find it by the real ' +
      'value',
    async () => {
      const [seq, id, trace] = sqlite(
        "SELECT seq, id, trace FROM events WHERE hop = 1 AND direction = 'request' ORDER BY seq LIMIT 1",
      ).split('|');
      sqlite(`UPDATE events SET host = 'elsewhere.invalid', trace = 'hidden' WHERE seq = ${seq}`);

      const verify = await chain.cli(['verify']);
      expect(verify.code).to.equal(1);
      expect(verify.stderr).to.contain(
        `row ${seq}: column: row ${seq}'s trace column "hidden" is not its event's trace "${trace}"`,
      );
      expect(verify.stderr).to.contain('MOAT_ERR_LEDGER_TAMPERED');

      const idsOf = async (filter: string[]) =>
        (await chain.cli(['events', ...filter, '--json'])).stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l).id);
      expect(await idsOf(['--host', 'api.anthropic.com'])).to.include(id);
      expect(await idsOf(['--trace', trace])).to.include(id);
      expect((await chain.cli(['events', '--trace', 'hidden'])).stdout).to.equal('');

      const dashboard = (await chain.status()).find((r) => r.role === 'dashboard');
      const token = readFileSync(chain.layout.dashboardTokenFile, 'utf8').trim();
      const api = async (q: string) =>
        (await (
          await fetch(`http://127.0.0.1:${dashboard.port}/_/api/events?${q}`, {
            headers: { authorization: `Bearer ${token}` },
          })
        ).json()) as { events: { id: string }[] };
      expect((await api(`trace=${trace}`)).events.map((e) => e.id)).to.include(id);
      expect((await api('host=api.anthropic.com&limit=1000')).events.map((e) => e.id)).to.include(id);
      expect((await api('trace=hidden')).events).to.deep.equal([]);

      // Put back: the ledger verifies again, heads and all, with NATS checked while the chain is up.
      sqlite(`UPDATE events SET host = 'api.anthropic.com', trace = '${trace}' WHERE seq = ${seq}`);
      const again = await chain.cli(['verify']);
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stdout).to.match(
        new RegExp(
          `ok, ${rows} rows, \\d+ signed checkpoints; head seq ${rows}/${rows} held \\(ledger-head\\.json, ` +
            `NATS key-value MOAT_default_heads/ledger\\)`,
        ),
      );
    },
  );

  it(
    "the head in NATS: no other process's key may put it, and " + "the ledger writer's own may not purge or delete it",
    async () => {
      const plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
      const spec = (id: string) => JSON.parse(readFileSync(join(chain.layout.runDir, `${id}.json`), 'utf8'));
      const as = (who: NatsIdentity) => connect({ ...natsConnection(plan.natsUrl, who), timeout: 3000 });
      const older = readHeadFile(headFile(chain.layout.ledgerFile));
      expect(older).to.have.property('head');
      const stale = new TextEncoder().encode(JSON.stringify({ ...(older as { head: object }).head, seq: 1 }));

      // A recording process (hop 1's key, from its spec file) cannot put a head.
      const hop1 = await as(spec('1-moat-telemetry').events);
      const put = await hop1
        .jetstream({ timeout: 1500 })
        .publish(headSubject('default', 'ledger'), stale)
        .then(
          () => 'stored',
          (e: Error) => e.message,
        );
      await hop1.close();
      expect(put).to.not.equal('stored');

      // The writer's own key: its key only, and no purge or delete of the bucket's messages.
      const ledger = await as(spec('ledger'));
      const jsm = await ledger.jetstreamManager();
      const refused = async (what: Promise<unknown>) =>
        what.then(
          () => 'done',
          (e: Error) => e.message,
        );
      expect(await refused(jsm.streams.purge(headStream('default')))).to.not.equal('done');
      expect(await refused(jsm.streams.deleteMessage(headStream('default'), 1))).to.not.equal('done');
      expect(await refused(jsm.streams.delete(headStream('default')))).to.not.equal('done');
      expect(
        await refused(
          ledger.jetstream({ timeout: 1500 }).publish(headSubject('default', 'ledger_central_0000000000000000'), stale),
        ),
      ).to.not.equal('done');
      await ledger.close();

      // Still the writer's newest head.
      const again = await chain.cli(['verify']);
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stdout).to.match(new RegExp(`head seq ${rows}/${rows} held`));
    },
  );

  it(
    'the tail deleted with its checkpoints while the chain ' + 'is down: verify fails naming the missing seqs',
    async () => {
      const down = await chain.cli(['down']);
      expect(down.code, down.stderr).to.equal(0);
      // With its write-ahead log: a writer stopped before it checkpointed leaves the newest rows there.
      for (const suffix of ['', '-wal'])
        if (existsSync(chain.layout.ledgerFile + suffix))
          copyFileSync(chain.layout.ledgerFile + suffix, backup() + suffix);
      const keep = rows - 5;
      sqlite(`DELETE FROM events WHERE seq > ${keep}; DELETE FROM checkpoints WHERE seq > ${keep}`);

      const verify = await chain.cli(['verify', '--json']);
      expect(verify.code).to.equal(1);
      const result = JSON.parse(verify.stdout);
      expect(result.problem).to.deep.include({ seq: keep + 1, kind: 'tail_cut' });
      expect(result.problem.detail).to.match(
        new RegExp(
          `^ledger ends at seq ${keep} but the head outside it \\(ledger-head\\.json, signed \\S+\\) says ` +
            `${rows}: rows ${keep + 1}\\.\\.${rows} are missing$`,
        ),
      );
      // Down, the chain's NATS cannot be asked: said, not hidden.
      expect(result.heads).to.deep.include({
        source: 'NATS key-value MOAT_default_heads/ledger',
        state: 'unavailable',
        note: 'the chain is not up',
      });
      // Nor can it be exported as a clean, shorter ledger.
      const exported = await chain.cli(['export', `${chain.layout.stateDir}/cut.json`]);
      expect(exported.code).to.equal(1);
      expect(exported.stderr).to.match(/not exported: .*rows \d+\.\.\d+ are missing/);
    },
  );

  it(
    'the head file deleted as well: the head in NATS names the cut once the chain is up, and the writer ' +
      'refuses to bury it',
    async () => {
      const keep = rows - 5;
      expect(rowCount()).to.equal(keep);
      rmSync(headFile(chain.layout.ledgerFile));
      await chain.up();

      // The writer will not append on top of the cut (that would replace the head with a later, consistent one).
      let status = await chain.cli(['status']);
      for (let i = 0; i < 100 && status.code === 0; i++) {
        await sleep(200);
        status = await chain.cli(['status']);
      }
      expect(status.code).to.equal(1);
      expect(status.stdout).to.match(
        new RegExp(
          /ledger: FAILING since \S+: cannot start: .*ledger\.db does not hold its signed head: ledger /.source +
            /ends at seq \d+ but the head outside it \(NATS key-value MOAT_default_heads\/ledger/.source,
        ),
      );

      const verify = await chain.cli(['verify']);
      expect(verify.code).to.equal(1);
      expect(verify.stderr).to.match(
        new RegExp(
          `row ${keep + 1}: tail_cut: ledger ends at seq ${keep} but the head outside it \\(NATS key-value ` +
            `MOAT_default_heads/ledger, signed \\S+\\) says ${rows}: rows ${keep + 1}\\.\\.${rows} are missing`,
        ),
      );
      expect(existsSync(headFile(chain.layout.ledgerFile))).to.equal(false);

      // The operator puts the ledger back: the writer starts again by itself (pm2 restarts it) and nothing was lost.
      const downAgain = await chain.cli(['down']);
      expect(downAgain.code, downAgain.stderr).to.equal(0);
      copyFileSync(backup(), chain.layout.ledgerFile);
      rmSync(`${chain.layout.ledgerFile}-wal`, { force: true });
      rmSync(`${chain.layout.ledgerFile}-shm`, { force: true });
      if (existsSync(`${backup()}-wal`)) copyFileSync(`${backup()}-wal`, `${chain.layout.ledgerFile}-wal`);
      await chain.up();
      let ok = await chain.cli(['verify']);
      for (let i = 0; i < 50 && ok.code !== 0; i++) {
        await sleep(200);
        ok = await chain.cli(['verify']);
      }
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(
        /head seq \d+\/\d+ held \(ledger-head\.json, NATS key-value MOAT_default_heads\/ledger\)/,
      );
    },
  );
});
