// The ledger's hash chain and signed checkpoints against every kind of tampering.
import { expect } from 'chai';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createPrivateKey, sign } from 'node:crypto';
import { Ledger } from '../../../../supervisor/ledger/ledger';
import { verifyLedger, checkpointMessage } from '../../../../supervisor/ledger/verify';
import { ensureLedgerKey, keyFiles } from '../../../../supervisor/ledger/writer';
import { canonicalJson } from '../../../../supervisor/ledger/canonical-json';
import { tmpDir } from '../../../helpers/tmp';
import { sql } from '../../../helpers/ledger-sql';
import { testEvent } from '../../../helpers/signed-ledger';
import type { MoatEvent } from '../../../../schemas/generated/event';

const event = (n: number): MoatEvent => testEvent('c', n);

describe('ledger', () => {
  const dir = tmpDir('moat-ledger-');
  after(() => dir.remove());
  let n = 0;

  async function freshLedger(
    rows = 20,
  ): Promise<{ file: string; check: () => Promise<ReturnType<typeof verifyLedger>> }> {
    const file = join(dir.path, `l${n++}.db`);
    const key = createPrivateKey(ensureLedgerKey(file));
    const ledger = await Ledger.open(file);
    await ledger.append(Array.from({ length: rows }, (_, i) => event(i + 1)));
    const time = new Date().toISOString();
    await ledger.addCheckpoint(
      ledger.headSeq,
      ledger.headHash,
      time,
      sign(null, checkpointMessage('c', ledger.headSeq, ledger.headHash, time), key).toString('base64'),
    );
    await ledger.close();
    const check = async () => {
      const l = await Ledger.open(file, true);
      try {
        return verifyLedger('c', await l.rows(), await l.checkpoints(), readFileSync(keyFiles(file).publicKey, 'utf8'));
      } finally {
        await l.close();
      }
    };
    return { file, check };
  }

  it('chains rows, skips redelivered ids and verifies', async () => {
    const { file, check } = await freshLedger(20);
    const ledger = await Ledger.open(file);
    expect(await ledger.append([event(5), event(20), event(21), event(21)])).to.equal(1);
    expect(await ledger.count()).to.equal(21);
    await ledger.close();
    const r = await check();
    expect(r).to.deep.include({ ok: true, rows: 21, checkpoints: 1, unsignedTail: 1 });
  });

  it('stores the canonical event, so the hash covers every field', async () => {
    const { file } = await freshLedger(1);
    const l = await Ledger.open(file, true);
    const [row] = await l.rows();
    await l.close();
    expect(row.event).to.equal(canonicalJson(event(1)));
  });

  it('finds a modified row', async () => {
    const { file, check } = await freshLedger();
    await sql(file, `UPDATE events SET event = replace(event, '/p/7', '/p/x') WHERE seq = 7`);
    expect((await check()).problem).to.deep.include({ seq: 7, kind: 'modified' });
  });

  it('finds a modified row whose hash was recomputed (the next row no longer chains)', async () => {
    const { file, check } = await freshLedger();
    const l = await Ledger.open(file, true);
    const rows = await l.rows();
    await l.close();
    const forged = rows[6].event.replace('/p/7', '/p/x');
    const { rowHash } = await import('../../../../supervisor/ledger/ledger');
    await sql(
      file,
      `UPDATE events SET event = '${forged}', hash = '${rowHash(rows[6].prev_hash, 7, forged)}' WHERE seq = 7`,
    );
    expect((await check()).problem).to.deep.include({ seq: 7, kind: 'modified' });
  });

  it('finds a deleted row', async () => {
    const { file, check } = await freshLedger();
    await sql(file, 'DELETE FROM events WHERE seq = 12');
    expect((await check()).problem).to.deep.include({ seq: 12, kind: 'deleted' });
  });

  it('finds an inserted row (rows after it renumbered)', async () => {
    const { file, check } = await freshLedger();
    const { rowHash } = await import('../../../../supervisor/ledger/ledger');
    const l = await Ledger.open(file, true);
    const rows = await l.rows();
    await l.close();
    const forged = canonicalJson(event(999));
    // Make room at seq 5, then insert a row that chains correctly to row 4.
    let statements = '';
    for (let s = 20; s >= 5; s--) statements += `UPDATE events SET seq = ${s + 1} WHERE seq = ${s};`;
    statements +=
      `INSERT INTO events (seq,id,trace,hop,boundary,direction,time,host,event,prev_hash,hash) VALUES ` +
      `(5,'forged','t',1,0,'request','x','h','${forged}','${rows[3].hash}','${rowHash(rows[3].hash, 5, forged)}` +
      `');`;
    await sql(file, statements);
    expect((await check()).problem).to.deep.include({ seq: 5, kind: 'inserted' });
  });

  it('finds a tail cut after the last signed checkpoint', async () => {
    const { file, check } = await freshLedger();
    await sql(file, 'DELETE FROM events WHERE seq > 17');
    expect((await check()).problem).to.deep.include({ kind: 'tail_cut' });
  });

  it('finds a forged checkpoint', async () => {
    const { file, check } = await freshLedger();
    await sql(file, `UPDATE checkpoints SET time = '2000-01-01T00:00:00.000Z'`);
    expect((await check()).problem).to.deep.include({ seq: 20, kind: 'bad_checkpoint' });
  });
});
