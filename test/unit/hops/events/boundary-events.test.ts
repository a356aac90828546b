// Bodies in events: DLP findings are masked in full capture too, and a body cut at
// capture.max_body_bytes never keeps the first characters of a secret straddling the cut.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { requestEvent, type BoundaryInfo, type CaptureMode } from '../../../../hops/events/boundary-events';
import { BoundaryRecorder } from '../../../../hops/events/boundary-recorder';
import { BodyTap } from '../../../../hops/events/body-tap';
import { capturedBody, charsWithinBytes, LOOKAHEAD_BYTES } from '../../../../hops/events/capture-body';
import type { RequestView } from '../../../../hops/logic/view';
import { fake, pemKey } from '../../../helpers/fake-secrets';

const VIEW: RequestView = {
  method: 'POST',
  scheme: 'https',
  host: 'api.example.com',
  port: 443,
  path: '/v1/upload',
  headers: { 'content-type': 'application/json' },
  trace: 't',
};
const info = (capture: CaptureMode): BoundaryInfo => ({ chain: 'c', hop: 1, hopName: 'h', boundary: 0, capture });

/**
 * The request event of `body`, through a tap that keeps `kept` bytes (default: the limit and the lookahead, as a
 * recorder's).
 */
function eventOf(body: string, capture: CaptureMode, limit = 65536, kept = limit + LOOKAHEAD_BYTES) {
  const tap = new BodyTap(kept);
  tap.push(Buffer.from(body));
  return requestEvent(info(capture), VIEW, {
    tap,
    contentType: 'application/json',
    streaming: false,
    captureLimit: limit,
  });
}

describe('bodies in boundary events', () => {
  const key = fake.awsAccessKey();
  const body = JSON.stringify({ content: `my key is ${key}, and password: "hunter2hunter2"` });

  it('full capture masks DLP findings (and keeps the hash and size of the real body)', () => {
    const e = eventOf(body, 'full');
    expect(e.body).to.equal(
      JSON.stringify({ content: 'my key is [REDACTED:aws_access_key], and password: "hunter2hunter2"' }),
    );
    expect(e.body).to.not.contain(key);
    expect(e.body_size).to.equal(Buffer.byteLength(body));
    expect(e.body_sha256).to.equal(createHash('sha256').update(body).digest('hex'));
    expect(e).to.not.have.property('body_truncated');
  });

  it('redacted capture masks DLP findings and secret-named values; metadata carries no body', () => {
    expect(eventOf(body, 'redacted').body).to.equal(
      JSON.stringify({ content: 'my key is [REDACTED:aws_access_key], and password: "[REDACTED]"' }),
    );
    expect(eventOf(body, 'metadata')).to.not.have.property('body');
  });

  it("the grants' placeholders stay in bodies: key-shaped, but sent by the agent on purpose", () => {
    const placeholder = fake.anthropicKey();
    const tap = new BodyTap(1000);
    tap.push(Buffer.from(JSON.stringify({ content: `my key is ${placeholder}, not ${key}` })));
    const e = requestEvent({ ...info('full'), placeholders: [placeholder] }, VIEW, {
      tap,
      streaming: false,
      captureLimit: 1000,
    });
    expect(e.body).to.equal(JSON.stringify({ content: `my key is ${placeholder}, not [REDACTED:aws_access_key]` }));
  });

  describe('a secret straddling the cut at capture.max_body_bytes', () => {
    const prefix = '{"content":"';
    const straddling = `${prefix}${key} and more text after it"}`;
    const limit = prefix.length + 10; // the cut falls inside the key

    it("is masked whole when the tap kept the lookahead past the cut (a recorder's tap does)", () => {
      const e = eventOf(straddling, 'full', limit);
      expect(e.body).to.equal(`${prefix}[REDACTED:aws_access_key]`);
      expect(e.body_truncated).to.equal(true);
    });

    it('drops its part before the cut when nothing past the cut was kept', () => {
      const e = eventOf(straddling, 'full', limit, limit);
      expect(e.body).to.equal(prefix);
      expect(e.body_truncated).to.equal(true);
    });

    it('a PEM key cut in its base64 is masked whole, and so is a key after text in other scripts', () => {
      const pem = JSON.stringify({ content: `here:\n${pemKey('OPENSSH ')}\nthanks` });
      expect(eventOf(pem, 'full', 200).body).to.equal('{"content":"here:\\n[REDACTED:pem_private_key]');
      const wide = `${prefix}${'日本語のテキスト'.repeat(10)} ${key}"}`;
      const cut = Buffer.byteLength(`${prefix}${'日本語のテキスト'.repeat(10)} ${key.slice(0, 6)}`);
      expect(eventOf(wide, 'redacted', cut).body).to.equal(
        `${prefix}${'日本語のテキスト'.repeat(10)} [REDACTED:aws_access_key]`,
      );
    });

    it('a secret past the cut is not in the body at all; one before it is masked', () => {
      const before = fake.githubToken();
      const text = `${prefix}${before} then ${'x'.repeat(100)} then ${key}"}`;
      const e = eventOf(text, 'full', prefix.length + before.length + 20);
      expect(e.body).to.equal(`${prefix}[REDACTED:github_token] then ${'x'.repeat(14)}`);
    });
  });

  it("a recorder's tap keeps the lookahead past the capture limit", () => {
    const recorder = new BoundaryRecorder(info('full'), 100, { publish: () => {} });
    const tap = recorder.tap(VIEW);
    tap.push(Buffer.alloc(100 + LOOKAHEAD_BYTES + 50, 'a'));
    expect(tap.bytes().length).to.equal(100 + LOOKAHEAD_BYTES);
    expect(new BoundaryRecorder(info('metadata'), 100, { publish: () => {} }).tap(VIEW).bytes().length).to.equal(0);
  });

  it('the cut never splits a character', () => {
    expect(charsWithinBytes('aé€😀b', 1)).to.equal(1);
    expect(charsWithinBytes('aé€😀b', 2)).to.equal(1);
    expect(charsWithinBytes('aé€😀b', 3)).to.equal(2);
    expect(charsWithinBytes('aé€😀b', 9)).to.equal(3);
    expect(charsWithinBytes('aé€😀b', 10)).to.equal(5);
    expect(charsWithinBytes('aé€😀b', 11)).to.equal(6);
    expect(capturedBody('aé€😀b', 9, 'full', false)).to.equal('aé€');
  });
});
