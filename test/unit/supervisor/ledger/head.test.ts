// The newest signed head kept outside the ledger, and the rows' filter columns checked against their
// hashed event: verify, export and the writer's start on SQLite ledgers tampered with as an agent would.
import { expect } from 'chai';
import { join } from 'node:path';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createPrivateKey, sign } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { Ledger } from '../../../../supervisor/ledger/ledger';
import { checkpointMessage, verifyLedger, type VerifyResult } from '../../../../supervisor/ledger/verify';
import {
  checkHead,
  describeHeads,
  headFile,
  parseHead,
  readHeadFile,
  withHeads,
  writeHeadFile,
  type HeadInput,
  type SignedHead,
} from '../../../../supervisor/ledger/head';
import { HeadKeeper, LedgerTamperedAtStart } from '../../../../supervisor/ledger/head-keeper';
import {
  verifyChainLedger,
  describeVerify,
  queryEvents,
  settledHeads,
  type HeadLookup,
} from '../../../../supervisor/ledger/commands';
import { exportChainLedger } from '../../../../supervisor/ledger/bundle-commands';
import { ensureLedgerKey, keyFiles } from '../../../../supervisor/ledger/writer';
import { stateLayout } from '../../../../supervisor/chain/state';
import { LedgerReader } from '../../../../supervisor/dashboard/ledger-reader';
import { writeSignedLedger } from '../../../helpers/signed-ledger';
import { tmpDir } from '../../../helpers/tmp';
import { sql } from '../../../helpers/ledger-sql';

/** A NATS connection that is not there: the keeper goes on with the file alone. */
const noNats = {
  jetstreamManager: () => Promise.reject(new Error('no NATS here')),
  jetstream: () => {
    throw new Error('no NATS here');
  },
} as unknown as NatsConnection;

describe('ledger head: checks (pure)', () => {
  const dir = tmpDir('moat-head-');
  after(() => dir.remove());
  const file = join(dir.path, 'l.db');
  let pub = '';
  let head: SignedHead;
  const signed = (seq: number, hash: string, time = '2026-01-01T00:00:00.000Z'): SignedHead => ({
    seq,
    hash,
    time,
    signature: sign(null, checkpointMessage('c', seq, hash, time), createPrivateKey(ensureLedgerKey(file))).toString(
      'base64',
    ),
  });
  before(() => {
    ensureLedgerKey(file);
    pub = readFileSync(keyFiles(file).publicKey, 'utf8');
    head = signed(20, 'a'.repeat(64));
  });

  it('names what a ledger that does not hold the head lacks', () => {
    const hashes =
      (upTo: number, at20 = 'a'.repeat(64)) =>
      (s: number) =>
        s <= upTo ? (s === 20 ? at20 : 'b'.repeat(64)) : undefined;
    const cases: {
      name: string;
      last: number;
      hashAt: (s: number) => string | undefined;
      head?: SignedHead;
      want?: { seq: number; kind: string; detail: RegExp };
    }[] = [
      { name: 'held', last: 20, hashAt: hashes(20) },
      { name: 'held, more rows after it', last: 25, hashAt: hashes(25) },
      {
        name: 'tail cut',
        last: 14,
        hashAt: hashes(14),
        want: {
          seq: 15,
          kind: 'tail_cut',
          detail: new RegExp(
            /^ledger ends at seq 14 but the head outside it \(SRC, signed 2026-01-01T00:00:00.000Z\) /.source +
              /says 20: rows 15\.\.20 are missing$/.source,
          ),
        },
      },
      {
        name: 'one row cut',
        last: 19,
        hashAt: hashes(19),
        want: { seq: 20, kind: 'tail_cut', detail: /says 20: row 20 is missing$/ },
      },
      {
        name: 'everything cut',
        last: 0,
        hashAt: hashes(0),
        want: { seq: 1, kind: 'tail_cut', detail: /ledger ends at seq 0 .* rows 1\.\.20 are missing$/ },
      },
      {
        name: 'rewritten',
        last: 22,
        hashAt: hashes(22, 'c'.repeat(64)),
        want: { seq: 20, kind: 'modified', detail: /^row 20 differs from the head signed in SRC/ },
      },
      {
        name: 'not signed by the key',
        last: 20,
        hashAt: hashes(20),
        head: { ...head, seq: 21 },
        want: { seq: 21, kind: 'bad_head', detail: /not signed by the ledger's key/ },
      },
    ];
    for (const c of cases) {
      const problem = checkHead('c', c.head ?? head, 'SRC', c.last, c.hashAt, pub);
      if (!c.want) expect(problem, c.name).to.equal(undefined);
      else {
        expect(problem, c.name).to.deep.include({ seq: c.want.seq, kind: c.want.kind });
        expect(problem!.detail, c.name).to.match(c.want.detail);
      }
    }
  });

  it('reads only a signed head from a file or a key', () => {
    expect(parseHead('{')).to.deep.equal({ invalid: 'not JSON' });
    expect(parseHead('{"seq":0,"hash":"x","time":"t","signature":"s"}')).to.have.property('invalid');
    expect(parseHead(JSON.stringify(head))).to.deep.equal({ head });
    expect(readHeadFile(join(dir.path, 'none.json'))).to.deep.equal({ absent: true });
    writeHeadFile(headFile(file), head);
    expect(headFile(file)).to.equal(join(dir.path, 'l-head.json'));
    expect(readHeadFile(headFile(file))).to.deep.equal({ head });
    expect(statSync(headFile(file)).mode & 0o777).to.equal(0o600);
  });

  it(
    'adds each head to the result: a missing file fails once there are checkpoints, a missing or unreachable ' +
      'NATS head is said',
    () => {
      const rows = Array.from({ length: 20 }, (_, i) => ({
        seq: i + 1,
        id: `${i}`,
        event: '{}',
        prev_hash: '',
        hash: i + 1 === 20 ? 'a'.repeat(64) : 'b'.repeat(64),
      }));
      const base: VerifyResult = { ok: true, rows: 20, checkpoints: 2, unsignedTail: 0 };
      const run = (inputs: HeadInput[], r = base) => withHeads(r, 'c', rows, pub, inputs);
      const file = (read: HeadInput['read']): HeadInput => ({ source: 'ledger-head.json', read, required: true });
      const nats = (read: HeadInput['read']): HeadInput => ({ source: 'NATS', read, required: false });

      const ok = run([file({ head }), nats({ head })]);
      expect(ok.ok).to.equal(true);
      expect(describeHeads(ok.heads)).to.equal('; head seq 20/20 held (ledger-head.json, NATS)');

      const down = run([file({ head }), nats({ unavailable: 'the chain is not up' })]);
      expect(down.ok).to.equal(true);
      expect(describeHeads(down.heads)).to.equal(
        '; head seq 20 held (ledger-head.json); NATS not checked: the chain is not up',
      );

      const noKey = run([file({ head }), nats({ absent: true })]);
      expect(noKey.ok).to.equal(true);
      expect(describeHeads(noKey.heads)).to.match(/no head in NATS$/);

      const gone = run([file({ absent: true }), nats({ unavailable: 'down' })]);
      expect(gone.problem).to.deep.include({ kind: 'head_missing' });
      expect(gone.problem!.detail).to.match(/^ledger-head\.json is missing/);
      // A ledger without a checkpoint has had no head yet.
      expect(run([file({ absent: true })], { ...base, checkpoints: 0 }).ok).to.equal(true);

      // What the head in NATS says of the cut comes before the missing file.
      const cutSeenByNats = withHeads(base, 'c', rows.slice(0, 14), pub, [file({ absent: true }), nats({ head })]);
      expect(cutSeenByNats.problem).to.deep.include({ seq: 15, kind: 'tail_cut' });
      const removedKey = run([file({ head }), nats({ invalid: 'the head was removed (a KV DEL marker, revision 3)' })]);
      expect(removedKey.problem).to.deep.include({
        kind: 'bad_head',
        detail: 'NATS: the head was removed (a KV DEL marker, revision 3)',
      });

      // The rows' own finding comes first; the heads are still reported.
      const both = run([file({ head })], { ...base, ok: false, problem: { seq: 3, kind: 'modified', detail: 'x' } });
      expect(both.problem!.seq).to.equal(3);
      expect(both.heads).to.have.length(1);
    },
  );
});

describe('ledger head: verify, events, export and the writer on a tampered SQLite ledger', () => {
  const dir = tmpDir('moat-head-');
  after(() => dir.remove());
  let n = 0;
  /** A chain's state with a ledger of 20 events, checkpoints at 10 and 20 (the head file says 20). */
  async function chain(): Promise<ReturnType<typeof stateLayout>> {
    const layout = stateLayout('c', join(dir.path, `h${n++}`));
    await writeSignedLedger(layout.ledgerFile, 'c', 20, [10, 20]);
    return layout;
  }
  const natsSays = (head: SignedHead | undefined): HeadLookup => ({
    source: 'NATS key-value MOAT_c_heads/ledger',
    read: async () => (head ? { head } : { absent: true }),
  });

  it('verifies an untouched ledger and says which heads it holds', async () => {
    const layout = await chain();
    const r = await verifyChainLedger(layout, 'c');
    expect(r.ok).to.equal(true);
    expect(describeVerify('ledger.db', r)).to.equal(
      'ledger.db: ok, 20 rows, 2 signed checkpoints; head seq 20 held (ledger-head.json)',
    );
  });

  it('reports the tail rows deleted with their checkpoints, naming the seqs', async () => {
    const layout = await chain();
    await sql(layout.ledgerFile, 'DELETE FROM events WHERE seq > 14; DELETE FROM checkpoints WHERE seq > 14');
    const r = await verifyChainLedger(layout, 'c');
    expect(r.ok).to.equal(false);
    expect(r.problem).to.deep.include({ seq: 15, kind: 'tail_cut' });
    expect(describeVerify('ledger.db', r)).to.match(
      new RegExp(
        /^ledger\.db: row 15: tail_cut: ledger ends at seq 14 but the head outside it /.source +
          /\(ledger-head\.json, signed \S+\) says 20: rows 15\.\.20 are missing$/.source,
      ),
    );
    // The rows alone, as before, saw nothing.
    const l = await Ledger.open(layout.ledgerFile, true);
    expect(
      verifyLedger(
        'c',
        await l.rows(),
        await l.checkpoints(),
        readFileSync(keyFiles(layout.ledgerFile).publicKey, 'utf8'),
      ).ok,
    ).to.equal(true);
    await l.close();
  });

  it('with the head file gone as well: fails on its absence, and the head in NATS names the cut', async () => {
    const layout = await chain();
    const head = readHeadFile(headFile(layout.ledgerFile));
    await sql(layout.ledgerFile, 'DELETE FROM events WHERE seq > 14; DELETE FROM checkpoints WHERE seq > 14');
    rmSync(headFile(layout.ledgerFile));
    const alone = await verifyChainLedger(layout, 'c');
    expect(alone.problem!.kind).to.equal('head_missing');
    const withNats = await verifyChainLedger(layout, 'c', { nats: natsSays('head' in head ? head.head : undefined) });
    expect(withNats.heads!.map((h) => h.state)).to.deep.equal(['bad', 'bad']);
    expect(withNats.problem).to.deep.include({ seq: 15, kind: 'tail_cut' });
    // Every checkpoint deleted too: only the head in NATS is left to tell.
    await sql(layout.ledgerFile, 'DELETE FROM checkpoints');
    const noCheckpoints = await verifyChainLedger(layout, 'c', {
      nats: natsSays('head' in head ? head.head : undefined),
    });
    expect(noCheckpoints.problem).to.deep.include({ seq: 15, kind: 'tail_cut' });
    expect(noCheckpoints.problem!.detail).to.match(
      /NATS key-value MOAT_c_heads\/ledger.* says 20: rows 15\.\.20 are missing/,
    );
  });

  it('an older signed head put back in the file is not enough once NATS has the newer one', async () => {
    const layout = await chain();
    const newest = readHeadFile(headFile(layout.ledgerFile));
    const l = await Ledger.open(layout.ledgerFile, true);
    const older = (await l.checkpoints())[0];
    await l.close();
    await sql(layout.ledgerFile, 'DELETE FROM events WHERE seq > 10; DELETE FROM checkpoints WHERE seq > 10');
    writeHeadFile(headFile(layout.ledgerFile), older);
    expect((await verifyChainLedger(layout, 'c')).ok).to.equal(true); // what a replayed file alone cannot show
    const r = await verifyChainLedger(layout, 'c', { nats: natsSays('head' in newest ? newest.head : undefined) });
    expect(r.problem).to.deep.include({ seq: 11, kind: 'tail_cut' });
  });

  it('reports a host or trace column that is not its event, and the filtered readers still find the row', async () => {
    const layout = await chain();
    await sql(layout.ledgerFile, "UPDATE events SET host = 'elsewhere.example', trace = 'hidden' WHERE seq = 7");
    const r = await verifyChainLedger(layout, 'c');
    expect(r.problem).to.deep.include({ seq: 7, kind: 'column' });
    expect(r.problem!.detail).to.equal('row 7\'s trace column "hidden" is not its event\'s trace "t3"');
    const byHost = await queryEvents(layout, { host: 'api.example.com' });
    expect(byHost.map((e) => e.id)).to.include('id-7');
    expect(byHost).to.have.length(20);
    expect((await queryEvents(layout, { trace: 't3' })).map((e) => e.id)).to.deep.equal(['id-6', 'id-7']);
    expect(await queryEvents(layout, { trace: 'hidden' })).to.deep.equal([]);
    expect(await queryEvents(layout, { host: 'elsewhere.example' })).to.deep.equal([]);
    const reader = new LedgerReader(layout, 'c');
    expect((await reader.events({ trace: 't3' }, 10)).map((e) => e.id)).to.deep.equal(['id-6', 'id-7']);
    expect((await reader.events({ host: 'api.example.com', hop: 2 }, 100)).map((e) => e.id)).to.include('id-7');
  });

  it(
    'finds an index made to lie about traces (the schema ' + 'edited by hand), which hid rows from the trace lookup',
    async () => {
      const layout = await chain();
      // The ledger as the writer opens it: with the index on the event's own trace.
      await (await Ledger.open(layout.ledgerFile)).close();
      expect((await queryEvents(layout, { trace: 't3' })).map((e) => e.id)).to.deep.equal(['id-6', 'id-7']);
      // The index on the hop column passed off as the one on the event's trace: every column still agrees with its
      // event.
      await sql(
        layout.ledgerFile,
        `DROP INDEX events_event_trace; PRAGMA writable_schema = ON;
      UPDATE sqlite_master SET sql = 'CREATE INDEX events_hop ON events(json_extract(event, ''$.trace''))'
      WHERE name = 'events_hop';`,
      );
      expect(await queryEvents(layout, { trace: 't3' })).to.deep.equal([]);
      const r = await verifyChainLedger(layout, 'c');
      expect(r.problem).to.deep.include({ kind: 'corrupt' });
      expect(r.problem!.detail).to.match(/^the database fails SQLite's integrity check: .*index events_hop/);
    },
  );

  it('reports every other copied column, and an id column, that is not its event', async () => {
    for (const [set, column] of [
      ['hop = 9', 'hop'],
      ['boundary = 9', 'boundary'],
      ["direction = 'x'", 'direction'],
      ["time = 'x'", 'time'],
      ['host = NULL', 'host'],
      ["id = 'x'", 'id'],
    ]) {
      const layout = await chain();
      await sql(layout.ledgerFile, `UPDATE events SET ${set} WHERE seq = 4`);
      const r = await verifyChainLedger(layout, 'c');
      expect(r.problem, set).to.deep.include({ seq: 4, kind: 'column' });
      expect(r.problem!.detail, set).to.match(new RegExp(`^row 4's ${column} column `));
    }
  });

  it('export refuses a ledger whose tail was cut (its bundle would verify on its own)', async () => {
    const layout = await chain();
    await sql(layout.ledgerFile, 'DELETE FROM events WHERE seq > 14; DELETE FROM checkpoints WHERE seq > 14');
    const out = join(dir.path, `b${n}.json`);
    let err: any;
    await exportChainLedger(layout, 'c', out, false).catch((e) => (err = e));
    expect(err?.code).to.equal('MOAT_ERR_LEDGER_TAMPERED');
    expect(err.message).to.match(/not exported: .* rows 15\.\.20 are missing/);
    expect(existsSync(out)).to.equal(false);
  });

  it(
    'the writer refuses to append to a ledger that lost its ' + 'head, and writes the head of one that has none yet',
    async () => {
      const layout = await chain();
      const pub = readFileSync(keyFiles(layout.ledgerFile).publicKey, 'utf8');
      const logs: string[] = [];
      const keeper = () =>
        new HeadKeeper({ chain: 'c', dbFile: layout.ledgerFile, key: 'ledger', nc: noNats, log: (l) => logs.push(l) });
      const open = async () => {
        const l = await Ledger.open(layout.ledgerFile);
        return { l, newest: (await l.checkpoints()).pop() };
      };

      // Untouched: starts.
      let { l, newest } = await open();
      await keeper().start(l, pub, newest);
      await l.close();
      expect(logs.join('\n')).to.match(/cannot read or make the heads bucket: no NATS here/);

      // Cut: refused, and the head file is left as it was.
      await sql(layout.ledgerFile, 'DELETE FROM events WHERE seq > 14; DELETE FROM checkpoints WHERE seq > 14');
      const before = readFileSync(headFile(layout.ledgerFile), 'utf8');
      ({ l, newest } = await open());
      let err: unknown;
      await keeper()
        .start(l, pub, newest)
        .catch((e) => (err = e));
      await l.close();
      expect(err).to.be.instanceOf(LedgerTamperedAtStart);
      expect((err as Error).message).to.match(
        new RegExp(
          /l?ledger\.db does not hold its signed head: ledger ends at seq 14 .* says 20: rows 15\.\.20 /.source +
            /are missing\. Not writing to it/.source,
        ),
      );
      expect(readFileSync(headFile(layout.ledgerFile), 'utf8')).to.equal(before);

      // A ledger written before heads existed (no head file): its newest checkpoint is written out.
      const other = await chain();
      rmSync(headFile(other.ledgerFile));
      const l2 = await Ledger.open(other.ledgerFile);
      const k2 = new HeadKeeper({
        chain: 'c',
        dbFile: other.ledgerFile,
        key: 'ledger',
        nc: noNats,
        log: () => undefined,
      });
      await k2.start(l2, readFileSync(keyFiles(other.ledgerFile).publicKey, 'utf8'), (await l2.checkpoints()).pop());
      await l2.close();
      expect(readHeadFile(headFile(other.ledgerFile))).to.have.nested.property('head.seq', 20);
    },
  );

  it('a head file that is not a head fails verify', async () => {
    const layout = await chain();
    writeFileSync(headFile(layout.ledgerFile), 'garbage');
    const r = await verifyChainLedger(layout, 'c');
    expect(r.problem).to.deep.include({ kind: 'bad_head', detail: 'ledger-head.json: not JSON' });
  });
});

describe('a head file written just after the first checkpoint', () => {
  const reads = (...kinds: (string | undefined)[]) => {
    let n = 0;
    return {
      read: async () => ({ problem: kinds[n] === undefined ? undefined : { kind: kinds[n] as string }, n: n++ }),
      count: () => n,
    };
  };

  it('is read once more when all that was wrong was the missing file, and what it then says counts', async () => {
    const r = reads('head_missing', undefined);
    expect(await settledHeads(r.read)).to.deep.equal({ problem: undefined, n: 1 });
    expect(r.count()).to.equal(2);
  });

  it('a file that stays missing is still reported, after one more read', async () => {
    const r = reads('head_missing', 'head_missing', undefined);
    expect((await settledHeads(r.read)).problem).to.deep.equal({ kind: 'head_missing' });
    expect(r.count()).to.equal(2);
  });

  it('any other finding is reported at once, without reading again', async () => {
    const r = reads('tail_cut', undefined);
    expect((await settledHeads(r.read)).problem).to.deep.equal({ kind: 'tail_cut' });
    expect(r.count()).to.equal(1);
  });
});
