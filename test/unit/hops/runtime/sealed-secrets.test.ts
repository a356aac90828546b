// Egress's sealed secrets: what `up` writes is what egress opens (the files 0600, no secret in them in clear), and a
// swapped key, a changed entry or a renamed one makes egress refuse the whole file, naming it and no secret.
import { expect } from 'chai';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSealedSecrets, writeSealedSecrets } from '../../../../hops/runtime/sealed-secrets';
import { tmpDir } from '../../../helpers/tmp';

const SECRETS = { MOAT_GRANT_0: 'sk-ant-api03-REAL-0', MOAT_GRANT_1: 'sk-REAL-1' };

describe('sealed secrets (egress)', () => {
  let dir: { path: string; remove(): void };
  let file: string;
  let keyFile: string;
  beforeEach(() => {
    dir = tmpDir();
    file = join(dir.path, 'egress.secrets');
    keyFile = join(dir.path, 'egress.secrets.key');
    writeSealedSecrets(file, keyFile, SECRETS);
  });
  afterEach(() => dir.remove());

  it('round trip; both files 0600, no secret in clear', () => {
    expect(readSealedSecrets(file, keyFile)).to.deep.equal(SECRETS);
    for (const f of [file, keyFile]) {
      expect(statSync(f).mode & 0o777).to.equal(0o600);
      for (const v of Object.values(SECRETS)) expect(readFileSync(f, 'utf8')).to.not.contain(v);
    }
  });

  it('a new key at every write: the last key file does not open the new file', () => {
    const oldKey = readFileSync(keyFile, 'utf8');
    writeSealedSecrets(file, keyFile, SECRETS);
    writeFileSync(keyFile, oldKey);
    expect(() => readSealedSecrets(file, keyFile)).to.throw(`${file}: entry "MOAT_GRANT_0" does not authenticate`);
  });

  it('an entry renamed (a key moved to another grant) is refused whole', () => {
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    parsed.entries = { MOAT_GRANT_0: parsed.entries.MOAT_GRANT_1, MOAT_GRANT_1: parsed.entries.MOAT_GRANT_0 };
    writeFileSync(file, JSON.stringify(parsed));
    expect(() => readSealedSecrets(file, keyFile)).to.throw('does not authenticate');
  });

  it('damaged, missing or of another format: an error naming the file, no secret', () => {
    const cases: [() => void, string][] = [
      [() => writeFileSync(file, '{"format":'), 'is not JSON'],
      [() => writeFileSync(file, '{"format":"x","version":1,"entries":{}}'), 'is not a version-1'],
      [() => writeFileSync(keyFile, 'abc'), 'does not hold a 256-bit hex key'],
      [() => writeFileSync(keyFile, ''), 'does not hold a 256-bit hex key'],
    ];
    for (const [damage, message] of cases) {
      writeSealedSecrets(file, keyFile, SECRETS);
      damage();
      let err: Error | undefined;
      try {
        readSealedSecrets(file, keyFile);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.contain(file).and.contain(message).and.contain('(MOAT_ERR_GRANT_STORE)');
      for (const v of Object.values(SECRETS)) expect(err?.message).to.not.contain(v);
    }
    expect(() => readSealedSecrets(join(dir.path, 'none'), keyFile)).to.throw('cannot read the sealed secrets');
  });
});
