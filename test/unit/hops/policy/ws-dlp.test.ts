// moat-policy's DLP over a WebSocket's client frames (hops/policy/ws-dlp.ts): the detectors and placeholders of request
// bodies, messages read across fragments, close reasons, policy.oversize, RSV bits, and DLP off by a rule.
import { expect } from 'chai';
import { findSecretsDecoded, type DlpLabel } from '../../../../hops/dlp';
import type { DlpOf, SecretScanner } from '../../../../hops/policy/engine';
import { WsClientDlp } from '../../../../hops/policy/ws-dlp';
import { WsFrameReader, type FrameInfo } from '../../../../hops/logic/ws-frame-reader';
import { encodeFrame, closeFrame, type FrameSpec } from '../../../../hops/logic/ws-frame-writer';
import { policyView, testPolicyEngine } from '../../../helpers/policy-engine';
import { fake } from '../../../helpers/fake-secrets';

const PLACEHOLDER = 'sk-ant-api03-' + 'moatplaceholder'.repeat(7) + 'AA';
const scan: SecretScanner = (text, labels, options) =>
  findSecretsDecoded(text, labels as DlpLabel[] | undefined, [PLACEHOLDER], options);
const MASK = Buffer.from([9, 8, 7, 6]);

function frames(specs: FrameSpec[], copyBytes = 1 << 16): FrameInfo[] {
  return new WsFrameReader({ copyBytes, from: 'client', copyAll: true }).push(
    Buffer.concat(specs.map((s) => encodeFrame({ mask: MASK, ...s }))),
  );
}
const t = (s: string, fin = true): FrameSpec => ({ op: 'text', payload: Buffer.from(s), fin });
const c = (s: string, fin = true): FrameSpec => ({ op: 'continuation', payload: Buffer.from(s), fin });

/** The first finding of `specs`, and at which frame. */
function firstFinding(dlp: WsClientDlp, specs: FrameSpec[], copyBytes?: number) {
  const read = frames(specs, copyBytes);
  for (let i = 0; i < read.length; i++) {
    const f = dlp.onFrame(read[i]);
    if (f) return { at: i, ...f };
  }
  return undefined;
}

const settings = (o: Partial<DlpOf> = {}): DlpOf => ({ scan, inspectMaxBytes: 1 << 20, oversize: 'deny', ...o });

describe('moat-policy DLP over WebSocket client frames', () => {
  const key = fake.openAiKey();
  const cases: {
    name: string;
    specs: FrameSpec[];
    dlp?: Partial<DlpOf>;
    expect?: { at: number; code: string; labels?: string[]; where?: string };
  }[] = [
    {
      name: 'a key in a text frame',
      specs: [t(`{"input":"${key}"}`)],
      expect: { at: 0, code: 'dlp_blocked', labels: ['openai_key'] },
    },
    { name: 'nothing in a plain message', specs: [t('{"type":"response.create","input":"hello"}')] },
    { name: 'the grants placeholder', specs: [t(`auth ${PLACEHOLDER}`)] },
    {
      name: 'a key split between two fragments, found at the second',
      specs: [t(`x ${key.slice(0, 20)}`, false), c(`${key.slice(20)} y`)],
      expect: { at: 1, code: 'dlp_blocked', labels: ['openai_key'] },
    },
    {
      name: 'a key split over three fragments with pings between',
      specs: [
        t(key.slice(0, 10), false),
        { op: 'ping', payload: Buffer.alloc(0) },
        c(key.slice(10, 20), false),
        c(key.slice(20)),
      ],
      expect: { at: 3, code: 'dlp_blocked' },
    },
    {
      name: 'a base64-encoded key split between fragments',
      specs: [
        t(`{"b":"${Buffer.from(key).toString('base64').slice(0, 20)}`, false),
        c(`${Buffer.from(key).toString('base64').slice(20)}"}`),
      ],
      expect: { at: 1, code: 'dlp_blocked', labels: ['openai_key'] },
    },
    {
      name: 'a key after a long first fragment: the message is read whole at its last',
      specs: [t('a '.repeat(16 * 1024), false), c(`${key.slice(0, 5)}`, false), c(key.slice(5))],
      expect: { at: 2, code: 'dlp_blocked' },
    },
    {
      name: 'a key in a close reason',
      specs: [{ op: 'close', payload: closeFrame(1000, `bye ${fake.githubToken()}`, false).subarray(2) }],
      expect: { at: 0, code: 'dlp_blocked', labels: ['github_token'], where: 'close reason' },
    },
    {
      name: 'a key in a binary message, split between its fragments (read as a body is)',
      specs: [
        { op: 'binary', payload: Buffer.concat([Buffer.from([0, 255]), Buffer.from(key.slice(0, 9))]), fin: false },
        { op: 'continuation', payload: Buffer.from(key.slice(9)) },
      ],
      expect: { at: 1, code: 'dlp_blocked', where: 'binary message' },
    },
    {
      name: 'a key in a ping payload',
      specs: [{ op: 'ping', payload: Buffer.from(key) }],
      expect: { at: 0, code: 'dlp_blocked', where: 'ping payload' },
    },
    {
      name: 'RSV bits on a client frame',
      specs: [{ op: 'text', payload: Buffer.from('hi'), rsv: 4 }],
      dlp: { oversize: 'allow' },
      expect: { at: 0, code: 'body_not_inspectable', where: 'frame' },
    },
    {
      name: 'a message over inspect_max_bytes with oversize deny',
      specs: [t('a'.repeat(600), false), c('b'.repeat(600))],
      dlp: { inspectMaxBytes: 1000 },
      expect: { at: 1, code: 'body_too_large_to_inspect' },
    },
    {
      name: 'the same with oversize allow',
      specs: [t('a'.repeat(600), false), c('b'.repeat(600))],
      dlp: { inspectMaxBytes: 1000, oversize: 'allow' },
    },
    {
      name: 'only the configured detectors',
      specs: [t(key)],
      dlp: { detectors: ['github_token'] },
    },
  ];
  for (const x of cases) {
    it(x.name, () => {
      const got = firstFinding(new WsClientDlp(settings(x.dlp)), x.specs);
      if (!x.expect) return expect(got).to.equal(undefined);
      expect(got).to.include({ at: x.expect.at, code: x.expect.code });
      if (x.expect.labels) expect(got!.labels).to.deep.equal(x.expect.labels);
      if (x.expect.where) expect(got!.where).to.equal(x.expect.where);
      expect(got!.reason).not.to.include(key);
    });
  }

  it('reads each message afresh: the end of one and the start of the next make no secret', () => {
    const dlp = new WsClientDlp(settings());
    expect(firstFinding(dlp, [t(key.slice(0, 20)), t(key.slice(20))])).to.equal(undefined);
  });

  it('takes its detectors from the engine, and none when a rule turns DLP off for the URL', () => {
    const engine = testPolicyEngine([{ match: 'api.example.com/**', action: 'allow', dlp: false }], {}, Date.now, scan);
    expect(engine.dlpOf(policyView('api.example.com', '/ws', { method: 'GET' }))).to.equal(undefined);
    const on = engine.dlpOf(policyView('api.openai.com', '/v1/responses', { method: 'GET' }))!;
    expect(on).to.include({ inspectMaxBytes: 1024, oversize: 'deny' });
    expect(firstFinding(new WsClientDlp(on), [t(key)])).to.include({ code: 'dlp_blocked' });
    const off = testPolicyEngine([], { dlp: { enabled: false } }, Date.now, scan);
    expect(off.dlpOf(policyView('api.openai.com', '/v1/responses'))).to.equal(undefined);
  });
});
