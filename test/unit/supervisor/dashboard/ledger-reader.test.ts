// The dashboard's reads of a real ledger file (SQLite, no sockets): newest events under filters,
// bodies left out where it asks, and verify with the verdict's line.
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { Ledger } from '../../../../supervisor/ledger/ledger';
import { stateLayout } from '../../../../supervisor/chain/state';
import { ensureLedgerKey } from '../../../../supervisor/ledger/writer';
import { LedgerReader } from '../../../../supervisor/dashboard/ledger-reader';
import { tmpDir } from '../../../helpers/tmp';
import { testEvent } from '../../../helpers/signed-ledger';
import type { MoatEvent } from '../../../../schemas/generated/event';

// The shared test event without a scheme, every fifth on another host, with a body, every fourth denied.
const event = (n: number): MoatEvent => {
  const { scheme: _scheme, ...base } = testEvent('c', n);
  return {
    ...base,
    host: n % 5 === 0 ? 'five.example' : 'api.example.com',
    body: `body ${n}`,
    body_size: 6,
    ...(n % 4 === 0 ? { decision: 'deny' } : {}),
  };
};

describe('dashboard: reading the ledger', () => {
  const dir = tmpDir('moat-dash-ledger-');
  const layout = stateLayout('c', dir.path);
  const reader = new LedgerReader(layout, 'c');
  after(() => dir.remove());

  it('has nothing to read, and nothing to verify, before the ledger exists', async () => {
    expect(await reader.events({}, 10)).to.deep.equal([]);
    const v = await reader.verify();
    expect(v.ok).to.equal(undefined);
    expect(v.text).to.contain('no ledger yet');
  });

  it('with a central ledger, says where verification happens instead of "no ledger yet"', async () => {
    const v = await new LedgerReader(layout, 'c', true).verify();
    expect(v.ok).to.equal(undefined);
    expect(v.text).to.contain('the ledger is central').and.contain('moat ledger verify --dir DIR --chain c');
  });

  it('gives the newest events that fit, oldest first, with or without bodies', async () => {
    mkdirSync(layout.stateDir, { recursive: true });
    ensureLedgerKey(layout.ledgerFile);
    const ledger = await Ledger.open(layout.ledgerFile);
    await ledger.append(Array.from({ length: 40 }, (_, i) => event(i + 1)));
    await ledger.close();

    expect((await reader.events({}, 3)).map((e) => e.id)).to.deep.equal(['id-38', 'id-39', 'id-40']);
    expect((await reader.events({}, 3))[0].body).to.equal('body 38');
    const bare = await reader.events({}, 3, { bodies: false });
    expect(bare.map((e) => e.body)).to.deep.equal([undefined, undefined, undefined]);
    expect(bare[0]).to.deep.include({ id: 'id-38', body_size: 6, path: '/p/38' });
    expect((await reader.events({ host: 'five.example' }, 100)).map((e) => e.id)).to.deep.equal([
      'id-5',
      'id-10',
      'id-15',
      'id-20',
      'id-25',
      'id-30',
      'id-35',
      'id-40',
    ]);
    expect((await reader.events({ decision: 'deny', hop: 1 }, 100)).map((e) => e.id)).to.deep.equal([
      'id-12',
      'id-24',
      'id-36',
    ]);
    expect((await reader.events({ trace: 't7' }, 100)).map((e) => e.id)).to.deep.equal(['id-14', 'id-15']);
  });

  it('verifies as `moat chain verify` does (a ledger without checkpoints is ok, its rows unsigned)', async () => {
    const v = await reader.verify(Date.now() + 10_000);
    expect(v).to.deep.include({ ok: true, rows: 40 });
    expect(v.text).to.match(/^ledger\.db: ok, 40 rows, 0 signed checkpoints/);
  });
});
