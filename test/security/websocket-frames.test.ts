// An agent sending secrets out over a WebSocket, as it would to get past moat-policy's DLP (hops/policy/ws-dlp.ts) and
// to leave them in the ledger (hops/events/ws-events.ts): a key split between fragments of one message (pings between
// them), a key in a close frame's reason, a key in a masked frame whose wire bytes hold no key (the reader unmasks
// before reading), a key in a compressed frame (RSV bits) DLP cannot read. Each is read as moat-policy reads it: the
// frame reader over the wire bytes, then the engine's own scanner and detectors (the grants' placeholders allowed).
import { expect } from 'chai';
import { findSecretsDecoded, type DlpLabel } from '../../hops/dlp';
import type { SecretScanner } from '../../hops/policy/engine';
import { WsClientDlp } from '../../hops/policy/ws-dlp';
import { WsFrameReader } from '../../hops/logic/ws-frame-reader';
import { closeFrame, encodeFrame, type FrameSpec } from '../../hops/logic/ws-frame-writer';
import { framesEvent, frameCopyBytes, websocketCloseEvent, WsFrameLog } from '../../hops/events/ws-events';
import { policyView, testPolicyEngine } from '../helpers/policy-engine';
import { fake } from '../helpers/fake-secrets';

const scan: SecretScanner = (text, labels, options) =>
  findSecretsDecoded(text, labels as DlpLabel[] | undefined, [], options);
const VIEW = policyView('api.openai.com', '/v1/responses', { method: 'GET', headers: { upgrade: 'websocket' } });

/** What moat-policy does with the client's wire bytes: the first finding, at which frame, or undefined. */
function policyReads(wire: Buffer) {
  const engine = testPolicyEngine([], { inspectMaxBytes: 1 << 20 }, Date.now, scan);
  const dlp = new WsClientDlp(engine.dlpOf(VIEW)!);
  const reader = new WsFrameReader({ copyBytes: frameCopyBytes(65536, 1 << 20), from: 'client' });
  const frames = reader.push(wire);
  expect(reader.error).to.equal(undefined);
  for (let i = 0; i < frames.length; i++) {
    const finding = dlp.onFrame(frames[i]);
    if (finding) return { at: i, ...finding };
  }
  return undefined;
}

const masked = (s: FrameSpec, mask = Buffer.from([0x5a, 0x13, 0x77, 0x21])) => encodeFrame({ ...s, mask });

describe('security: secrets sent over a WebSocket', () => {
  const key = fake.openAiKey();

  it('a key split between two fragments (a ping between them) is one secret: closed at the fragment that ends it', () => {
    const wire = Buffer.concat([
      masked({ op: 'text', payload: Buffer.from(`{"input":"${key.slice(0, 12)}`), fin: false }),
      masked({ op: 'ping', payload: Buffer.from('x') }),
      masked({ op: 'continuation', payload: Buffer.from(`${key.slice(12)}"}`) }),
    ]);
    const finding = policyReads(wire);
    expect(finding, 'the split key got through').to.include({ at: 2, code: 'dlp_blocked' });
    expect(finding!.labels).to.deep.equal(['openai_key']);
    expect(JSON.stringify(finding)).not.to.include(key);
  });

  it('a key in a close frame reason is found', () => {
    const token = fake.githubToken();
    const finding = policyReads(closeFrame(1000, `bye ${token}`, true));
    expect(finding, 'the close reason got through').to.include({ code: 'dlp_blocked', where: 'close reason' });
    expect(JSON.stringify(finding)).not.to.include(token);
  });

  it('a masked frame whose wire bytes hold no key is read unmasked', () => {
    // A mask chosen so that the wire bytes hold no key shape: nothing a scanner of the raw bytes would flag.
    const payload = Buffer.from(`k=${key}`);
    const mask = Buffer.from([0x20, 0x20, 0x20, 0x20]); // letters change case, digits and - become control bytes
    const wire = masked({ op: 'text', payload }, mask);
    expect(findSecretsDecoded(wire.toString('latin1')).findings, 'the wire bytes themselves hold a key').to.deep.equal(
      [],
    );
    expect(policyReads(wire), 'the masked key got through').to.include({ code: 'dlp_blocked' });
  });

  it('a compressed frame (RSV1, not agreed) is refused: DLP cannot read it', () => {
    const finding = policyReads(masked({ op: 'text', payload: Buffer.from(key), rsv: 4 }));
    expect(finding, 'the compressed frame got through').to.include({ code: 'body_not_inspectable' });
  });

  it('a key in frame text or a close reason never reaches an event, in full capture', () => {
    const info = { chain: 'c', hop: 1, hopName: 'moat-policy', boundary: 0, capture: 'full' as const };
    const log = new WsFrameLog({ capture: 'full', captureLimit: 65536, startMs: 0 });
    const reader = new WsFrameReader({ copyBytes: frameCopyBytes(65536) });
    const token = fake.githubToken();
    const wire = Buffer.concat([
      encodeFrame({ op: 'text', payload: Buffer.from(`a ${key} b`) }),
      closeFrame(1008, `leak ${token}`, false),
    ]);
    for (const f of reader.push(wire)) log.add('client', f, 1);
    const close = log.firstClose!;
    const events = [
      framesEvent(info, VIEW, log.take()!),
      websocketCloseEvent(info, VIEW, {
        status: 101,
        elapsedMs: 1,
        ttfbMs: 1,
        closedBy: 'client',
        closeCode: close.code,
        closeReason: close.reason,
        bytesUp: wire.length,
        bytesDown: 0,
        framesUp: log.framesUp,
        framesDown: 0,
      }),
    ];
    const text = JSON.stringify(events);
    expect(text).not.to.include(key);
    expect(text).not.to.include(token);
    expect(text).to.include('[REDACTED:openai_key]').and.include('[REDACTED:github_token]');
  });

  it('a key split between fragments never reaches an event in part: the message is masked whole on its last frame', () => {
    const info = { chain: 'c', hop: 1, hopName: 'moat-telemetry', boundary: 0, capture: 'redacted' as const };
    const log = new WsFrameLog({ capture: 'redacted', captureLimit: 65536, startMs: 0 });
    const reader = new WsFrameReader({ copyBytes: frameCopyBytes(65536) });
    const at = 30;
    const wire = Buffer.concat([
      encodeFrame({ op: 'text', fin: false, payload: Buffer.from(`my key: ${key.slice(0, at)}`) }),
      encodeFrame({ op: 'ping', payload: Buffer.from('p') }),
      encodeFrame({ op: 'continuation', payload: Buffer.from(`${key.slice(at)} end`) }),
    ]);
    for (const f of reader.push(wire)) log.add('client', f, 1);
    const event = framesEvent(info, VIEW, log.take()!);
    const text = JSON.stringify(event);
    expect(text).not.to.include(key.slice(0, at));
    expect(text).not.to.include(key.slice(at));
    expect(event.frames!.map((f) => f.text)).to.deep.equal([undefined, undefined, 'my key: [REDACTED:openai_key] end']);
  });
});
