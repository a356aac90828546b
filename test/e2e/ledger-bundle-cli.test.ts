// `moat chain export FILE` and `moat chain verify FILE` through the real CLI: exit codes and
// messages; verify FILE runs with no config, no state directory and no chain.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { CliChain, MOAT_BIN, type CliResult } from '../helpers/cli-chain';
import { writeSignedLedger } from '../helpers/signed-ledger';
import { keyFiles } from '../../supervisor/ledger/writer';
import { tmpDir } from '../helpers/tmp';

/** `moat chain verify ...` from an empty directory with an empty MOAT_HOME: only the file is there. */
function offlineVerify(cwd: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MOAT_BIN, 'chain', 'verify', ...args],
      { cwd, env: { ...process.env, MOAT_HOME: join(cwd, 'no-home') } },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('moat chain export / verify FILE (CLI)', function () {
  this.timeout(60_000);
  const chain = new CliChain();
  const elsewhere = tmpDir('moat-offline-');
  const bundle = join(elsewhere.path, 'ledger-bundle.json');

  before(async () => {
    // A ledger as a chain leaves it; no chain needs to run for export.
    chain.writeConfig('proxies:\n  - moat-telemetry\negress:\n  allow: []\n');
    await writeSignedLedger(chain.layout.ledgerFile, 'default', 10, [5, 9]);
  });

  after(() => {
    elsewhere.remove();
    return chain.cleanup();
  });

  it('export writes the bundle and says what it holds; a second export needs --force', async () => {
    const res = await chain.cli(['export', bundle]);
    expect(res.stderr).to.equal('');
    expect(res.code).to.equal(0);
    expect(res.stdout).to.equal(`exported chain default: 10 rows, 2 signed checkpoints to ${bundle}\n`);
    const again = await chain.cli(['export', bundle]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.equal(`moat: ${bundle}: already exists (--force replaces it)\n(MOAT_ERR_EXPORT_EXISTS)\n`);
    expect((await chain.cli(['export', bundle, '--force'])).code).to.equal(0);
  });

  it('verify FILE passes with nothing but the file, and with --key', async () => {
    const res = await offlineVerify(elsewhere.path, ['ledger-bundle.json']);
    expect(res.stderr).to.equal('');
    expect(res.code).to.equal(0);
    expect(res.stdout).to.match(
      new RegExp(
        /^ledger-bundle\.json: ok, 10 rows, 2 signed checkpoints, 1 rows after the last checkpoint; /.source +
          /key SHA256:\S+ is the bundle's own \(pin it with --key\)\n$/.source,
      ),
    );
    const pinned = await offlineVerify(elsewhere.path, [
      'ledger-bundle.json',
      '--key',
      keyFiles(chain.layout.ledgerFile).publicKey,
    ]);
    expect(pinned.code, pinned.stderr).to.equal(0);
    expect(pinned.stdout).to.contain('pinned by --key');
  });

  it('verify FILE fails with exit 1 naming the row and the kind once one byte changed', async () => {
    const original = readFileSync(bundle);
    const tampered = join(elsewhere.path, 'tampered.json');
    // "/p/7" -> "/p/8" inside row 7's event: still a canonical bundle, but the row no longer matches its hash.
    const at = original.indexOf('/p/7');
    const changed = Buffer.from(original);
    changed[at + 3] = '8'.charCodeAt(0);
    writeFileSync(tampered, changed);
    const res = await offlineVerify(elsewhere.path, ['tampered.json']);
    expect(res.code).to.equal(1);
    expect(res.stdout).to.equal('');
    expect(res.stderr).to.equal(
      'moat: tampered.json: row 7: modified: row 7 does not match its hash\n(MOAT_ERR_LEDGER_TAMPERED)\n',
    );

    // The final newline made a space: "only formatting", refused all the same.
    changed.set(original);
    changed[changed.length - 1] = 0x20;
    writeFileSync(tampered, changed);
    const formatting = await offlineVerify(elsewhere.path, ['tampered.json']);
    expect(formatting.code).to.equal(1);
    expect(formatting.stderr).to.equal(
      `moat: tampered.json: not in canonical form from byte ${original.length - 1} on: the file was changed ` +
        `after export\n(MOAT_ERR_BUNDLE_INVALID)\n`,
    );
  });

  it('verify FILE --key with another key fails clearly', async () => {
    const other = join(elsewhere.path, 'other.pub.pem');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const res = await offlineVerify(elsewhere.path, ['ledger-bundle.json', '--key', 'other.pub.pem']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.match(
      new RegExp(
        /^moat: ledger-bundle\.json: signed by key SHA256:\S+, not by other\.pub\.pem /.source +
          /\(SHA256:\S+\)\n\(MOAT_ERR_KEY_MISMATCH\)\n$/.source,
      ),
    );
  });

  it('export without FILE, and --key without FILE, are usage errors', async () => {
    const res = await chain.cli(['export']);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.contain('export needs a file to write');
    const key = await chain.cli(['verify', '--key', 'k.pem']);
    expect(key.code).to.equal(2);
    expect(key.stderr).to.contain('--key goes with `verify FILE`');
  });
});
