// The exported ledger bundle: verified with nothing but its bytes, and no byte of it can change
// unnoticed, "only formatting" included.
import { expect } from 'chai';
import { join } from 'node:path';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, sign } from 'node:crypto';
import { exportChainLedger, verifyBundleFile } from '../../../../supervisor/ledger/bundle-commands';
import { bundleBytes, parseBundle, verifyBundle, type LedgerBundle } from '../../../../supervisor/ledger/bundle';
import { rowHash } from '../../../../supervisor/ledger/ledger';
import { checkpointMessage } from '../../../../supervisor/ledger/verify';
import { keyFiles } from '../../../../supervisor/ledger/writer';
import { MoatError } from '../../../../supervisor/errors';
import { stateLayout } from '../../../../supervisor/chain/state';
import { writeSignedLedger } from '../../../helpers/signed-ledger';
import { tmpDir } from '../../../helpers/tmp';

/** What verify FILE concludes from these bytes: 'ok', the tamper kind, or the error code. A crash fails the test. */
function verdict(bytes: Buffer): string {
  try {
    const r = verifyBundle(parseBundle(bytes, 'b.json'));
    return r.ok ? 'ok' : r.problem!.kind;
  } catch (err) {
    if (err instanceof MoatError) return err.code;
    throw err;
  }
}

/** The bundle parsed, changed by `edit`, and written back canonically (as a careful forger would). */
function forged(bytes: Buffer, edit: (b: LedgerBundle) => void): Buffer {
  const bundle = JSON.parse(bytes.toString()) as LedgerBundle;
  edit(bundle);
  return bundleBytes(bundle);
}

describe('ledger bundle (moat chain export / verify FILE)', () => {
  const dir = tmpDir('moat-bundle-');
  const layout = stateLayout('c', join(dir.path, 'home'));
  const file = join(dir.path, 'bundle.json');
  let bytes: Buffer;
  after(() => dir.remove());

  before(async () => {
    // 10 events, checkpoints after 5 and 9: row 10 is the unsigned tail, which must be protected too.
    await writeSignedLedger(layout.ledgerFile, 'c', 10, [5, 9]);
    await exportChainLedger(layout, 'c', file, false);
    bytes = readFileSync(file);
  });

  it('exports every row and checkpoint with the key, and verifies offline', () => {
    const bundle = JSON.parse(bytes.toString());
    expect(Object.keys(bundle)).to.deep.equal(['chain', 'checkpoints', 'format', 'public_key', 'rows']);
    expect(bundle).to.deep.include({
      format: 'moat-ledger-bundle/1',
      chain: 'c',
      public_key: readFileSync(keyFiles(layout.ledgerFile).publicKey, 'utf8'),
    });
    expect(bundle.rows).to.have.length(10);
    expect(Object.keys(bundle.rows[0])).to.deep.equal(['event', 'hash', 'id', 'prev_hash', 'seq']);
    expect(bundle.checkpoints.map((c: { seq: number }) => c.seq)).to.deep.equal([5, 9]);
    expect(bytes.toString())
      .to.match(/^\{"chain":"c","checkpoints":\[\{"hash":"[0-9a-f]{64}","seq":5,/)
      .and.match(/\]\}\n$/);
    const { result, pinned } = verifyBundleFile(file);
    expect(result).to.deep.include({ ok: true, rows: 10, checkpoints: 2, unsignedTail: 1 });
    expect(pinned).to.equal(false);
  });

  it('changing any single byte fails verification (every position: xor 0x01 and a space)', function () {
    this.timeout(120_000);
    expect(verdict(bytes)).to.equal('ok');
    const seen = new Set<string>();
    for (let i = 0; i < bytes.length; i++) {
      for (const replace of [bytes[i] ^ 0x01, 0x20]) {
        if (replace === bytes[i]) continue;
        const changed = Buffer.from(bytes);
        changed[i] = replace;
        const v = verdict(changed);
        expect(
          v,
          `byte ${i} (${JSON.stringify(String.fromCharCode(bytes[i]))} -> ` +
            `${JSON.stringify(String.fromCharCode(replace))})`,
        ).to.not.equal('ok');
        seen.add(v);
      }
    }
    // Both ways of failing occur: a file that is no longer a canonical bundle, and rows or signatures that no longer
    // check.
    expect([...seen]).to.include.members(['MOAT_ERR_BUNDLE_INVALID', 'modified', 'bad_checkpoint']);
  });

  it('a cut, an appended byte or an empty file is refused with a clear error', () => {
    for (const changed of [
      bytes.subarray(0, bytes.length - 1),
      bytes.subarray(0, 100),
      Buffer.concat([bytes, Buffer.from('\n')]),
      Buffer.alloc(0),
    ]) {
      expect(verdict(changed)).to.equal('MOAT_ERR_BUNDLE_INVALID');
    }
    expect(() => parseBundle(Buffer.concat([bytes, Buffer.from(' ')]), 'b.json')).to.throw(
      MoatError,
      /^b\.json: not in canonical form from byte \d+ on/,
    );
    expect(() => parseBundle(Buffer.from('{"format":"moat-ledger-bundle/1"}\n'), 'b.json')).to.throw(
      MoatError,
      /^b\.json: chain: expected a string$/,
    );
    expect(() => parseBundle(Buffer.from('[1,2'), 'b.json')).to.throw(
      MoatError,
      /^b\.json: not a ledger bundle: not JSON/,
    );
  });

  it('names the tamper kind through a bundle rewritten canonically', () => {
    const verdictOf = (edit: (b: LedgerBundle) => void) =>
      verifyBundle(parseBundle(forged(bytes, edit), 'b.json')).problem;
    expect(verdictOf((b) => (b.rows[3].event = b.rows[3].event.replace('/p/4', '/p/x')))).to.deep.include({
      seq: 4,
      kind: 'modified',
    });
    expect(verdictOf((b) => b.rows.splice(2, 1))).to.deep.include({ seq: 3, kind: 'deleted' });
    expect(verdictOf((b) => b.rows.splice(7))).to.deep.include({ kind: 'tail_cut' });
    expect(verdictOf((b) => (b.checkpoints[1].time = '2000-01-01T00:00:00.000Z'))).to.deep.include({
      seq: 9,
      kind: 'bad_checkpoint',
    });
    expect(verdictOf((b) => (b.rows[6].id = 'id-other'))).to.deep.include({
      seq: 7,
      kind: 'modified',
      detail: `row 7's id "id-other" is not its event's id "id-7"`,
    });
  });

  it('--key pins the signer: the right key passes, another fails, a non-key is named', () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const otherFile = join(dir.path, 'other.pub.pem');
    writeFileSync(otherFile, other);
    expect(verifyBundleFile(file, keyFiles(layout.ledgerFile).publicKey)).to.deep.include({ pinned: true });
    expect(() => verifyBundleFile(file, otherFile)).to.throw(
      MoatError,
      /bundle\.json: signed by key SHA256:\S+, not by \S+other\.pub\.pem \(SHA256:\S+\)$/,
    );
    expect(() => verifyBundleFile(file, file)).to.throw(MoatError, /bundle\.json: not a PEM public key$/);
    expect(() => verifyBundleFile(file, join(dir.path, 'missing.pem'))).to.throw(
      MoatError,
      /missing\.pem: cannot read: no such file$/,
    );
  });

  it('a full re-sign with another key passes on its own key and is caught only with --key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const resigned = forged(bytes, (b) => {
      b.rows[3].event = b.rows[3].event.replace('/p/4', '/p/x');
      let prev = b.rows[2].hash;
      for (const row of b.rows.slice(3)) {
        row.prev_hash = prev;
        prev = row.hash = rowHash(row.prev_hash, row.seq, row.event);
      }
      for (const cp of b.checkpoints) {
        cp.hash = b.rows[cp.seq - 1].hash;
        cp.signature = sign(null, checkpointMessage(b.chain, cp.seq, cp.hash, cp.time), privateKey).toString('base64');
      }
      b.public_key = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    });
    const resignedFile = join(dir.path, 'resigned.json');
    writeFileSync(resignedFile, resigned);
    expect(verifyBundleFile(resignedFile).result.ok).to.equal(true);
    expect(() => verifyBundleFile(resignedFile, keyFiles(layout.ledgerFile).publicKey))
      .to.throw(MoatError)
      .with.property('code', 'MOAT_ERR_KEY_MISMATCH');
  });

  it(
    'export refuses to replace a file without --force, ' + 'replaces it with --force, and leaves no temporary file',
    async () => {
      const err = await exportChainLedger(layout, 'c', file, false).catch((e) => e);
      expect(err).to.be.instanceOf(MoatError).with.property('code', 'MOAT_ERR_EXPORT_EXISTS');
      expect(err.message).to.equal(`${file}: already exists (--force replaces it)`);
      writeFileSync(file, 'old');
      expect(await exportChainLedger(layout, 'c', file, true)).to.deep.equal({ file, rows: 10, checkpoints: 2 });
      expect(readFileSync(file).equals(bytes)).to.equal(true);
      expect(readdirSync(dir.path).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
      const missingDir = await exportChainLedger(layout, 'c', join(dir.path, 'no', 'b.json'), false).catch((e) => e);
      expect(missingDir)
        .to.be.instanceOf(MoatError)
        .with.property('message')
        .that.match(/no\/b\.json: cannot write the bundle: its directory does not exist$/);
    },
  );
});
