// Moat's nkeys (Node's Ed25519) against nats.js's own (tweetnacl): the same public key and the same signature
// (Ed25519 signatures are deterministic), seeds either side makes read by the other, and damaged seeds refused.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { nkeyAuthenticator as natsAuthenticator, nkeys } from 'nats';
import { newUserNkey, nkeyAuthenticator } from '../../../../hops/events/nkeys';

const NONCE = 'a4aD0bW9s3Jb8p1mF2qK';

describe('NATS nkeys with Node Ed25519 (no sockets)', () => {
  it('answers the challenge as nats.js does, for a seed nats.js made', () => {
    for (let i = 0; i < 20; i++) {
      const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
      const theirs = natsAuthenticator(new TextEncoder().encode(seed))(NONCE + i);
      const ours = nkeyAuthenticator(seed)(NONCE + i);
      expect(ours).to.deep.equal(theirs);
    }
  });

  it('makes seeds nats.js reads, with the public key nats.js derives', () => {
    for (let i = 0; i < 20; i++) {
      const made = newUserNkey();
      expect(made.seed).to.match(/^SU[A-Z2-7]{56}$/);
      expect(made.publicKey).to.match(/^U[A-Z2-7]{55}$/);
      const pair = nkeys.fromSeed(new TextEncoder().encode(made.seed));
      expect(pair.getPublicKey()).to.equal(made.publicKey);
      const sig = nkeyAuthenticator(made.seed)(NONCE).sig;
      const verifier = nkeys.fromPublic(made.publicKey);
      expect(verifier.verify(new TextEncoder().encode(NONCE), Buffer.from(sig, 'base64'))).to.equal(true);
      expect(verifier.verify(new TextEncoder().encode(NONCE + 'x'), Buffer.from(sig, 'base64'))).to.equal(false);
    }
  });

  it('refuses what is not a user seed: a changed letter, a public key, garbage', () => {
    const { seed, publicKey } = newUserNkey();
    const changed = seed.slice(0, 10) + (seed[10] === 'A' ? 'B' : 'A') + seed.slice(11);
    expect(() => nkeyAuthenticator(changed)(NONCE)).to.throw(/checksum/);
    expect(() => nkeyAuthenticator(publicKey)(NONCE)).to.throw(/not a NATS nkey seed/);
    expect(() => nkeyAuthenticator('not a seed!')(NONCE)).to.throw(/not a NATS nkey/);
  });

  it('signs nothing without a nonce (the server sent none)', () => {
    const { seed, publicKey } = newUserNkey();
    expect(nkeyAuthenticator(seed)()).to.deep.equal({ nkey: publicKey, sig: '' });
  });

  it('makes thousands of users in a process with a small young generation without hanging (Node 20 deadlocked)', function () {
    this.timeout(60_000);
    // generateKeyPairSync then a JWK export deadlocked when a collection ran the generating job's destructor during
    // the export (about one run in three of 5,000 users here); `up` hung so in CI. Each run here takes 2-3 s.
    const script =
      `const { newUserNkey } = require(${JSON.stringify(require.resolve('../../../../hops/events/nkeys'))});` +
      'for (let i = 0; i < 4000; i++) newUserNkey(); console.log("done");';
    const out = execFileSync(process.execPath, ['--max-semi-space-size=1', '-e', script], {
      encoding: 'utf8',
      timeout: 45_000,
    });
    expect(out.trim()).to.equal('done');
  });
});
