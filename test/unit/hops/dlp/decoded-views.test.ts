// DLP reads what a server reads (issue 16): each spelling of a key is found in its decoded view, and the
// finding is the ENCODED span of the original text, so masking leaves nothing a detector would find.
import { expect } from 'chai';
import { findSecrets, findSecretsDecoded, maskSecretsDecoded } from '../../../../hops/dlp';
import { base64Runs, decodedViews, originalSpan } from '../../../../hops/dlp/decoded-views';
import { fake } from '../../../helpers/fake-secrets';

const key = fake.awsAccessKey();
const anthropic = fake.anthropicKey();
const hook = fake.slackWebhook();
const pct = (s: string) =>
  [...s].map((c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join('');
const b64 = (s: string) => Buffer.from(s).toString('base64');

// Every spelling: the text, whether it is a form/query, and the label that must be found.
const SPELLINGS: { name: string; text: string; form?: boolean; label: string }[] = [
  {
    name: 'JSON \\u escape of the first letter',
    text: JSON.stringify({ c: 'x' }).replace('x', '\\u0041' + key.slice(1)),
    label: 'aws_access_key',
  },
  {
    name: 'JSON \\u escapes throughout',
    text: `{"c":"${[...key].map((c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')).join('')}"}`,
    label: 'aws_access_key',
  },
  {
    name: 'JSON \\/ escapes in a webhook URL',
    text: JSON.stringify({ url: hook }).replace(/\//g, '\\/'),
    label: 'slack_token',
  },
  { name: 'a non-ASCII escape hiding the boundary', text: `{"c":"\\u00e9${key}"}`, label: 'aws_access_key' },
  {
    name: 'JSON in JSON (double escape)',
    text: JSON.stringify({ inner: `{"c":"\\u0041${key.slice(1)}"}` }),
    label: 'aws_access_key',
  },
  {
    name: 'base64 in a JSON string',
    text: JSON.stringify({ data: b64(`the key is ${key} ok`) }),
    label: 'aws_access_key',
  },
  {
    name: 'base64 right after a JSON \\n escape',
    text: JSON.stringify({ c: `line one\n${b64(`k ${key}`)}` }),
    label: 'aws_access_key',
  },
  { name: 'base64 of the key alone', text: JSON.stringify({ data: b64(key) }), label: 'aws_access_key' },
  {
    name: 'URL-safe base64 in a path segment',
    text: `/v1/files/${Buffer.from(anthropic).toString('base64url')}/x`,
    label: 'anthropic_key',
  },
  { name: 'base64 after a name prefix (misaligned run)', text: `id_${b64('zz ' + key)}`, label: 'aws_access_key' },
  {
    name: 'MIME base64 in 76-character lines',
    text:
      'Content-Transfer-Encoding: base64\r\n\r\n' +
      b64('x'.repeat(50) + ' ' + key + ' ' + 'y'.repeat(80)).replace(/(.{76})/g, '$1\r\n'),
    label: 'aws_access_key',
  },
  { name: 'base64 of base64', text: b64(b64(`k=${key}`)), label: 'aws_access_key' },
  { name: 'percent-encoded form field', text: `a=1&k=${pct(key)}&b=2`, form: true, label: 'aws_access_key' },
  {
    name: 'form field with + around =',
    text: `aws_secret_access_key+=+${fake.awsSecretKey().replace(/[+/]/g, 'a')}`,
    form: true,
    label: 'aws_secret_key',
  },
  { name: 'percent-encoded query parameter', text: `key=%41%4B${key.slice(2)}`, form: true, label: 'aws_access_key' },
  {
    name: 'percent-encoding in a URL inside JSON',
    text: JSON.stringify({ u: `https://x.test/?k=${pct(key)}` }),
    label: 'aws_access_key',
  },
  {
    name: 'UTF-16LE with BOM',
    text: Buffer.from(`\ufeff{"k":"${key}"}`, 'utf16le').toString('latin1'),
    label: 'aws_access_key',
  },
  {
    name: 'UTF-16BE without BOM',
    text: Buffer.from(`{"k":"${key}"}`, 'utf16le').swap16().toString('latin1'),
    label: 'aws_access_key',
  },
  {
    name: 'UTF-16 inside base64 (PowerShell -EncodedCommand)',
    text: `-enc ${Buffer.from(`echo ${key}`, 'utf16le').toString('base64')}`,
    label: 'aws_access_key',
  },
  { name: 'Slack webhook path alone', text: new URL(hook).pathname, label: 'slack_token' },
  { name: 'key as a path segment', text: `/v1/${anthropic}/x`, label: 'anthropic_key' },
];

describe('DLP decoded views (no sockets)', () => {
  for (const s of SPELLINGS) {
    it(`finds ${s.label} in ${s.name}, and masking leaves nothing to find in any view`, () => {
      const read = findSecretsDecoded(s.text, undefined, [], { form: s.form });
      expect(read.complete).to.equal(true);
      expect(
        read.findings.map((f) => f.label),
        s.text,
      ).to.include(s.label);
      const masked = maskSecretsDecoded(s.text, [], { form: s.form });
      expect(masked).to.contain(`[REDACTED:${s.label}]`);
      expect(findSecretsDecoded(masked, undefined, [], { form: s.form }).findings, masked).to.deep.equal([]);
    });
  }

  it('a plain body is read once: no view is made when nothing looks encoded', () => {
    const body = JSON.stringify({
      model: 'm',
      messages: [{ role: 'user', content: 'hello "world"\nsecond line 100% sure' }],
    });
    expect(decodedViews(body).views.map((v) => v.how)).to.deep.equal(['']);
  });

  it('maps a view back to the span it came from', () => {
    const text = 'x=%41%42c';
    const view = decodedViews(text, { form: true }).views[1];
    expect(view.text).to.equal('x=ABc');
    expect(originalSpan(view, 2, 4)).to.deep.equal({ start: 2, end: 8 });
  });

  it("the grants' placeholders stay allowed in decoded views too", () => {
    expect(findSecretsDecoded(`a=${pct(key)}`, undefined, [key], { form: true }).findings).to.deep.equal([]);
  });

  it('remembers each text per way of reading: labels, allowed values and form never share an answer', () => {
    // The same short text read first one way, then the others: each answer is the one a fresh reading gives.
    const text = `a=${pct(key)}`;
    expect(findSecretsDecoded(text, undefined, [], { form: true }).findings).to.have.length(1);
    expect(findSecretsDecoded(text, undefined, [key], { form: true }).findings).to.deep.equal([]);
    expect(findSecretsDecoded(text, ['anthropic_key'], [], { form: true }).findings).to.deep.equal([]);
    expect(findSecretsDecoded(text, undefined, [], { form: true }).findings).to.have.length(1);
    // The allowed list is read by its values, not by which array holds them.
    expect(findSecretsDecoded(text, undefined, [key.slice(0)], { form: true }).findings).to.deep.equal([]);
    const plain = key;
    expect(findSecretsDecoded(plain, undefined, [plain]).findings).to.deep.equal([]);
    expect(findSecretsDecoded(plain).findings).to.have.length(1);
    expect(findSecretsDecoded(plain, undefined, [anthropic]).findings).to.have.length(1);
  });

  it('stops at the bound and says so: a caller fails closed', () => {
    let nested = `k=${key}`;
    for (let i = 0; i < 6; i++) nested = b64(nested + ' padding text to keep it printable');
    const read = findSecretsDecoded(nested, undefined, [], { bounds: { decodedPerChar: 1, decodedSlack: 0 } });
    expect(read.complete).to.equal(false);
    expect(read.reason).to.match(/exceed/);
  });

  it('reads encodings nested up to maxDepth and no further', () => {
    let nested = `k=${key}`;
    for (let i = 0; i < 3; i++) nested = b64(nested);
    expect(findSecretsDecoded(nested).findings).to.have.length(1);
    expect(findSecretsDecoded(nested, undefined, [], { bounds: { maxDepth: 2 } }).findings).to.deep.equal([]);
  });

  it('the raw detectors alone miss these spellings (what this module adds)', () => {
    const missed = SPELLINGS.filter(
      (s) => !s.name.startsWith('Slack') && !s.name.startsWith('key as') && findSecrets(s.text).length === 0,
    );
    expect(missed.length).to.be.greaterThan(12);
  });

  it('stays linear: 1 MiB of base64 with slashes reads in bounded time', () => {
    const blob = Buffer.from(Buffer.alloc(768 << 10).map((_, i) => (i * 2654435761) >>> 24)).toString('base64');
    const t = performance.now();
    const read = findSecretsDecoded(JSON.stringify({ image: blob }));
    expect(read.complete).to.equal(true);
    expect(performance.now() - t).to.be.lessThan(2000);
  });

  it('finds base64 runs as the pattern did: 20 or more letters, on over line breaks followed by more', () => {
    const runs = (text: string) => [...base64Runs(text)].map((r) => [r.index, r.run]);
    const line = 'QUJD'.repeat(5); // 20 characters
    expect(runs(`x ${line} y`)).to.deep.equal([[2, line]]);
    expect(runs(`x ${line.slice(1)} y`)).to.deep.equal([]); // 19: too short
    expect(runs(`${line}\r\n${line}\n${line}\r\nQQ==`)).to.deep.equal([[0, `${line}\r\n${line}\n${line}\r\nQQ`]]);
    expect(runs(`${line}\\r\\n${line}\\n.`)).to.deep.equal([[0, `${line}\\r\\n${line}`]]); // JSON's escapes
    expect(runs(`${line}\n\n${line}`)).to.deep.equal([
      [0, line],
      [22, line],
    ]); // a blank line ends a run
    expect(runs(`${line}\r ${line}`)).to.deep.equal([
      [0, line],
      [22, line],
    ]); // a lone CR is no break
  });

  it('reads a body of 8 MiB of one letter (one base64 run) to the end instead of failing', () => {
    // The pattern that found runs overflowed V8's backtracking stack here, and moat-policy denied the upload.
    const read = findSecretsDecoded('b'.repeat(8 << 20));
    expect(read).to.deep.include({ findings: [], complete: true });
  });

  it('a key prefix before megabytes of letters: not read, and the reading says so (oversize decides)', () => {
    const read = findSecretsDecoded('ghp_' + 'a'.repeat(7 << 20));
    expect(read.complete).to.equal(false);
    expect(read.reason).to.match(/too long for DLP's patterns/);
  });
});
