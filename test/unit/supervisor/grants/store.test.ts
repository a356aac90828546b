// The grant store: round trip, atomic 0600 writes, every tampered field or wrong key refused whole with
// MOAT_ERR_GRANT_STORE naming the file (never a key), and where its key lives (a keyring, else the 0600 key file).
import { expect } from 'chai';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  addGrant,
  grantRows,
  openStore,
  removeGrant,
  storeFileOf,
  storeLockOf,
} from '../../../../supervisor/grants/store';
import { keyFileOf, systemKeyring, type Keyring } from '../../../../supervisor/grants/store-key';
import { MoatError } from '../../../../supervisor/errors';
import { tmpDir } from '../../../helpers/tmp';

const KEY_A = `sk-ant-api03-${randomBytes(20).toString('hex')}`;
const KEY_X = `xk-${randomBytes(20).toString('hex')}`;
const noKeyring = () => ({ why: 'none in this test' });
const ANTHROPIC = { name: 'anthropic', host: 'api.anthropic.com', header: 'x-api-key', format: '{key}' };
const EXAMPLE = { name: 'example', host: 'api.example.com', header: 'authorization', format: 'Bearer {key}' };

function storeError(fn: () => unknown): MoatError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(MoatError);
    const e = err as MoatError;
    expect(e.code).to.equal('MOAT_ERR_GRANT_STORE');
    expect(e.message).to.not.contain(KEY_A).and.not.contain(KEY_X);
    return e;
  }
  throw new Error('expected MOAT_ERR_GRANT_STORE');
}

/** A keyring that keeps one value in memory (or refuses to). */
function fakeKeyring(refuse = false): { keyring: Keyring; value?: string } {
  const ring: { keyring: Keyring; value?: string } = {
    keyring: {
      get: () => ring.value ?? null,
      set: (v) => {
        if (refuse) throw new Error('AccessDenied');
        ring.value = v;
      },
      where: 'fake keyring',
    },
  };
  return ring;
}

describe('grant store', () => {
  let dir: { path: string; remove(): void };
  let home: string;
  beforeEach(() => {
    dir = tmpDir();
    home = join(dir.path, 'h');
    addGrant(home, ANTHROPIC, KEY_A, noKeyring);
    addGrant(home, EXAMPLE, KEY_X, noKeyring);
  });
  afterEach(() => dir.remove());

  const file = () => storeFileOf(home);
  const edit = (change: (entries: any) => void) => {
    const parsed = JSON.parse(readFileSync(file(), 'utf8'));
    change(parsed.entries);
    writeFileSync(file(), JSON.stringify(parsed));
  };

  it('round trip: every key back, the files (the lock too) 0600, no key in clear, no temporary file left', () => {
    const store = openStore(home, noKeyring)!;
    expect(store.grants.map((g) => [g.name, g.host, g.header, g.format, g.key])).to.deep.equal([
      ['anthropic', 'api.anthropic.com', 'x-api-key', '{key}', KEY_A],
      ['example', 'api.example.com', 'authorization', 'Bearer {key}', KEY_X],
    ]);
    expect(store.storeKey.source).to.equal('file');
    for (const f of [file(), keyFileOf(home), storeLockOf(home)]) {
      expect(statSync(f).mode & 0o777).to.equal(0o600);
      expect(readFileSync(f, 'utf8')).to.not.contain(KEY_A).and.not.contain(KEY_X);
    }
    expect(readdirSync(home).sort()).to.deep.equal(['grants.json', 'grants.key', 'grants.lock']);
  });

  it('every write seals again with fresh nonces', () => {
    const before = JSON.parse(readFileSync(file(), 'utf8')).entries.anthropic.sealed.nonce;
    removeGrant(home, 'example', noKeyring);
    expect(JSON.parse(readFileSync(file(), 'utf8')).entries.anthropic.sealed.nonce).to.not.equal(before);
    expect(openStore(home, noKeyring)!.grants.map((g) => g.name)).to.deep.equal(['anthropic']);
  });

  it('list rows: a fingerprint, never the key', () => {
    const rows = grantRows(openStore(home, noKeyring)!);
    expect(JSON.stringify(rows)).to.not.contain(KEY_A).and.not.contain(KEY_X);
    expect(rows.map((r) => r.fingerprint)).to.satisfy((f: string[]) => f.every((x) => /^[0-9a-f]{12}$/.test(x)));
    expect(rows[0].fingerprint).to.not.equal(rows[1].fingerprint);
  });

  it('one key per host: another name for a stored host is refused; the same name replaces', () => {
    expect(() => addGrant(home, { ...EXAMPLE, name: 'other' }, KEY_X, noKeyring)).to.throw('one key per host');
    expect(addGrant(home, EXAMPLE, `${KEY_X}2`, noKeyring).replaced).to.equal(true);
    expect(openStore(home, noKeyring)!.grants.find((g) => g.name === 'example')!.key).to.equal(`${KEY_X}2`);
  });

  const flip = (b64: string) => {
    const b = Buffer.from(b64, 'base64');
    b[0] ^= 1;
    return b.toString('base64');
  };
  const tampers: [string, (e: any) => void, string][] = [
    ['the ciphertext', (e) => (e.anthropic.sealed.ct = flip(e.anthropic.sealed.ct)), 'does not authenticate'],
    ['the nonce', (e) => (e.anthropic.sealed.nonce = flip(e.anthropic.sealed.nonce)), 'does not authenticate'],
    ['the tag', (e) => (e.anthropic.sealed.tag = flip(e.anthropic.sealed.tag)), 'does not authenticate'],
    ['the host (key sent elsewhere)', (e) => (e.example.host = 'evil.example.net'), 'does not authenticate'],
    ['the header', (e) => (e.example.header = 'x-other'), 'does not authenticate'],
    ['the format', (e) => (e.example.format = '{key} leak'), 'does not authenticate'],
    ['the date', (e) => (e.example.added = '2020-01-01T00:00:00.000Z'), 'does not authenticate'],
    [
      'the name (an entry renamed)',
      (e) => {
        e.claude = { ...e.anthropic, name: 'claude' };
        delete e.anthropic;
      },
      'does not authenticate',
    ],
    ['the name only in the map', (e) => ((e.other = e.example), delete e.example), 'is damaged'],
    ['a field removed', (e) => delete e.example.sealed, 'is damaged'],
    [
      'a forged entry sealed under another key',
      (e) => (e.forged = { ...e.example, name: 'forged', host: 'forged.example' }),
      'does not authenticate',
    ],
  ];
  for (const [what, change, message] of tampers) {
    it(`a store with ${what} changed is refused whole, naming the file`, () => {
      edit(change);
      const err = storeError(() => openStore(home, noKeyring));
      expect(err.message).to.contain(file()).and.contain(message);
    });
  }

  it('damaged files are refused: not JSON, cut short, another format', () => {
    const good = readFileSync(file(), 'utf8');
    for (const text of ['', good.slice(0, good.length / 2), '{"format":"moat grant store","version":2}', '[]']) {
      writeFileSync(file(), text);
      expect(storeError(() => openStore(home, noKeyring)).message).to.contain(file());
    }
  });

  it('a wrong, missing, short or world-readable key file is refused', () => {
    const key = keyFileOf(home);
    writeFileSync(key, randomBytes(32).toString('hex'));
    expect(storeError(() => openStore(home, noKeyring)).message).to.contain('does not authenticate');
    writeFileSync(key, 'abcd');
    expect(storeError(() => openStore(home, noKeyring)).message).to.contain('does not hold a 256-bit hex key');
    chmodSync(key, 0o644);
    expect(storeError(() => openStore(home, noKeyring)).message).to.contain('readable by others');
    chmodSync(key, 0o600);
    writeFileSync(key, '');
    require('node:fs').rmSync(key);
    expect(storeError(() => openStore(home, noKeyring)).message).to.contain('is missing');
  });

  it('no store: undefined; rm of an unknown name: false', () => {
    expect(openStore(join(dir.path, 'none'), noKeyring)).to.equal(undefined);
    expect(removeGrant(home, 'nope', noKeyring)).to.equal(false);
  });

  describe('the store key in a keyring', () => {
    it('a keyring that answers holds the key (no key file); the store says so and opens only with it', () => {
      const home2 = join(dir.path, 'k');
      const ring = fakeKeyring();
      const added = addGrant(home2, ANTHROPIC, KEY_A, () => ring);
      expect(added.storeKey.source).to.equal('keyring');
      expect(readdirSync(home2).sort()).to.deep.equal(['grants.json', 'grants.lock']);
      expect(openStore(home2, () => ring)!.grants[0].key).to.equal(KEY_A);
      expect(storeError(() => openStore(home2, noKeyring)).message).to.contain(
        'its key is in the system keyring, which cannot be reached here',
      );
      ring.value = randomBytes(32).toString('hex');
      expect(storeError(() => openStore(home2, () => ring)).message).to.contain('does not authenticate');
    });

    it('a keyring that refuses (no Secret Service): the key file, and why', () => {
      const home2 = join(dir.path, 'f');
      const added = addGrant(home2, ANTHROPIC, KEY_A, () => fakeKeyring(true));
      expect(added.storeKey.source).to.equal('file');
      expect(added.storeKey.why).to.contain('AccessDenied');
      expect(openStore(home2, noKeyring)!.grants[0].key).to.equal(KEY_A);
    });

    it('a store whose key is in a file ignores a keyring that appears later', () => {
      expect(openStore(home, () => fakeKeyring())!.storeKey.source).to.equal('file');
    });
  });
});

describe('grant store: the real system keyring binding', () => {
  it('MOAT_GRANT_KEYRING=off: no keyring, and why', () => {
    expect(systemKeyring('/nonexistent', { MOAT_GRANT_KEYRING: 'off' })).to.deep.equal({
      why: 'MOAT_GRANT_KEYRING=off',
    });
  });

  // Here (CI, containers) no Secret Service runs: the command must not fail, the key goes to the file. Skipped where a
  // session bus exists, so a developer's own keyring is never written by a test.
  (process.env.DBUS_SESSION_BUS_ADDRESS ? it.skip : it)(
    'with no Secret Service running: the key file, never a failure',
    () => {
      const dir = tmpDir();
      try {
        const home = join(dir.path, 'h');
        const added = addGrant(home, ANTHROPIC, KEY_A, (h) => systemKeyring(h, {}));
        expect(added.storeKey.source).to.equal('file');
        expect(added.storeKey.why).to.be.a('string');
        expect(openStore(home, (h) => systemKeyring(h, {}))!.grants[0].key).to.equal(KEY_A);
      } finally {
        dir.remove();
      }
    },
  );
});
