import { expect } from 'chai';
import { redactHeaders, redactSecrets, REDACTED } from '../../hops/redact';
import { BodyTap } from '../../hops/body-tap';
import { createHash } from 'node:crypto';

describe('redaction and body taps', () => {
  it('always redacts credential headers, keeps the rest', () => {
    expect(redactHeaders({ Authorization: 'Bearer x', 'x-api-key': 'k', cookie: 'c', 'set-cookie': ['a', 'b'], 'content-type': 'json', 'x-extra': 'v' }, ['x-extra'])).to.deep.equal({
      authorization: REDACTED, 'x-api-key': REDACTED, cookie: REDACTED, 'set-cookie': REDACTED, 'content-type': 'json', 'x-extra': REDACTED,
    });
  });

  const secrets = [
    'sk-ant-api03-abcdefghijklmnop', 'sk-proj-abcdefghijklmnopqrstuvwxyz', 'AKIAIOSFODNN7EXAMPLE', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    'xoxb-1234567890-abcdef', 'sk_live_abcdefghijklmnop1234', 'AIzaSyA1234567890abcdefghijklmnopqrstuv',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----',
  ];
  for (const secret of secrets) {
    it(`masks ${secret.slice(0, 12)}… in bodies`, () => {
      const out = redactSecrets(JSON.stringify({ content: `here: ${secret} ok` }));
      expect(out).to.not.contain(secret);
      expect(out).to.contain(REDACTED);
    });
  }

  it('masks values of secret-named fields and leaves ordinary text alone', () => {
    expect(redactSecrets('{"api_key":"hunter2hunter2","note":"hello world"}')).to.equal(`{"api_key":"${REDACTED}","note":"hello world"}`);
  });

  it('hashes the whole body but keeps at most the limit', () => {
    const tap = new BodyTap(5);
    tap.push(Buffer.from('hello '));
    tap.push(Buffer.from('world'));
    expect(tap.size).to.equal(11);
    expect(tap.text()).to.equal('hello');
    expect(tap.truncated).to.equal(true);
    expect(tap.sha256()).to.equal(createHash('sha256').update('hello world').digest('hex'));
  });
});
