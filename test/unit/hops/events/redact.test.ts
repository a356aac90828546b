import { expect } from 'chai';
import { bodyMasks, redactHeaders, redactSecrets, REDACTED } from '../../../../hops/events/redact';
import { applyMasks } from '../../../../hops/dlp/spans';
import { fake, pemKey } from '../../../helpers/fake-secrets';
import { BodyTap } from '../../../../hops/events/body-tap';
import { createHash } from 'node:crypto';

describe('redaction and body taps', () => {
  it('always redacts credential headers, keeps the rest', () => {
    expect(
      redactHeaders(
        {
          Authorization: 'Bearer x',
          'x-api-key': 'k',
          cookie: 'c',
          'set-cookie': ['a', 'b'],
          'content-type': 'json',
          'x-extra': 'v',
        },
        ['x-extra'],
      ),
    ).to.deep.equal({
      authorization: REDACTED,
      'x-api-key': REDACTED,
      cookie: REDACTED,
      'set-cookie': REDACTED,
      'content-type': 'json',
      'x-extra': REDACTED,
    });
  });

  // One sample per DLP label (test/unit/hops/dlp/detectors.test.ts has the rest): capture redaction uses the same
  // detectors.
  const secrets = [
    fake.anthropicKey(),
    fake.openAiProjectKey(),
    fake.awsAccessKey(),
    fake.githubToken(),
    fake.slackBotToken(),
    fake.stripeKey(),
    fake.googleApiKey(),
    pemKey('RSA '),
  ];
  for (const secret of secrets) {
    it(`masks ${secret.slice(0, 7)}… in bodies, naming its label`, () => {
      const out = redactSecrets(JSON.stringify({ content: `here: ${secret} ok` }));
      expect(out).to.match(/^\{"content":"here: \[REDACTED:[a-z_]+\] ok"\}$/);
    });
  }

  it('masks values of secret-named fields and leaves ordinary text alone', () => {
    expect(redactSecrets('{"api_key":"hunter2hunter2","note":"hello world"}')).to.equal(
      `{"api_key":"${REDACTED}","note":"hello world"}`,
    );
    expect(redactSecrets('{"client_secret": "abcdefghij", "refresh_token":"zyxwvutsrq", "max_tokens": 1024}')).to.equal(
      `{"client_secret": "${REDACTED}", "refresh_token":"${REDACTED}", "max_tokens": 1024}`,
    );
    expect(redactSecrets(JSON.stringify({ content: 'password: "hunter2hunter2"' }))).to.equal(
      `{"content":"password: \\"${REDACTED}\\""}`,
    );
  });

  it('a DLP finding keeps its label where a secret-named field holds it', () => {
    const key = fake.openAiKey();
    expect(redactSecrets(`{"api_key":"${key}"}`)).to.equal('{"api_key":"[REDACTED:openai_key]"}');
  });

  it('full capture masks DLP findings only; redacted masks secret-named values too', () => {
    const key = fake.awsAccessKey();
    const body = `{"password":"hunter2hunter2","id":"${key}"}`;
    const show = (capture: 'full' | 'redacted') => applyMasks(body, bodyMasks(body, capture));
    expect(show('full')).to.equal('{"password":"hunter2hunter2","id":"[REDACTED:aws_access_key]"}');
    expect(show('redacted')).to.equal(`{"password":"${REDACTED}","id":"[REDACTED:aws_access_key]"}`);
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
