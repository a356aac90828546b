// moat-policy's gate on a WebSocket's client bytes (hops/runtime/ws-gate.ts), as a stream without sockets: what goes
// on, in what order, however the bytes are cut; a text message held until its last fragment is read; binary frames
// streamed; a finding stops everything after what was already sent; inspect_max_bytes; unreadable frames.
import { expect } from 'chai';
import { WsFrameReader, type FrameInfo } from '../../../../hops/logic/ws-frame-reader';
import { encodeFrame, type FrameSpec } from '../../../../hops/logic/ws-frame-writer';
import { WsGate } from '../../../../hops/runtime/ws-gate';
import type { WebSocketFinding } from '../../../../hops/logic/view';

const MASK = Buffer.from([1, 2, 3, 4]);
const frame = (spec: Omit<FrameSpec, 'mask'>) => encodeFrame({ ...spec, mask: MASK });
const text = (s: string, fin = true) => frame({ op: 'text', payload: Buffer.from(s), fin });
const cont = (s: string, fin = true) => frame({ op: 'continuation', payload: Buffer.from(s), fin });

interface Run {
  /** What went on, and when (after which input chunk). */
  out: Buffer;
  outAfter: number[];
  findings: WebSocketFinding[];
  frames: FrameInfo[];
}

/** Pushes `chunks` through a gate that finds "SECRET" in a message (its fragments joined) or a control frame. */
function run(chunks: Buffer[], o: { maxHeld?: number; oversize?: 'deny' | 'allow'; enforce?: boolean } = {}): Run {
  const r: Run = { out: Buffer.alloc(0), outAfter: [], findings: [], frames: [] };
  let message = '';
  const gate = new WsGate({
    reader: new WsFrameReader({ copyBytes: 1 << 20, from: 'client', copyAll: true }),
    read(f) {
      const secret = { code: 'dlp_blocked', reason: 'a secret' };
      if (f.message === undefined) return f.text?.includes('SECRET') ? secret : undefined;
      message += f.text ?? '';
      const found = f.fin && message.includes('SECRET');
      if (f.fin) message = '';
      return found ? secret : undefined;
    },
    maxHeld: o.maxHeld ?? 1 << 20,
    oversize: o.oversize ?? 'deny',
    onFrame: (f) => r.frames.push(f),
    onFinding(finding) {
      r.findings.push(finding);
      return o.enforce ?? true;
    },
  });
  gate.on('data', (b: Buffer) => (r.out = Buffer.concat([r.out, b])));
  for (const c of chunks) {
    gate.write(c);
    r.outAfter.push(r.out.length);
  }
  return r;
}

/** `bytes` cut at every point in `cuts`. */
const cut = (bytes: Buffer, cuts: number[]) =>
  [0, ...cuts, bytes.length].slice(1).map((end, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1], end));

describe('WebSocket gate (moat-policy)', () => {
  const clean = Buffer.concat([
    text('hello'),
    frame({ op: 'binary', payload: Buffer.alloc(300, 7) }),
    text('frag', false),
    frame({ op: 'ping', payload: Buffer.from('p') }),
    cont('ment', false),
    cont('ed'),
    frame({ op: 'close', payload: Buffer.from([0x03, 0xe8]) }),
  ]);

  it('passes a clean stream whole and in order, however it is cut (every cut point, and byte by byte)', () => {
    for (let at = 1; at < clean.length; at++)
      expect(run(cut(clean, [at])).out.equals(clean), `cut at ${at}`).to.equal(true);
    const bytewise = run([...clean].map((b) => Buffer.from([b])));
    expect(bytewise.out.equals(clean)).to.equal(true);
    expect(bytewise.findings).to.deep.equal([]);
    expect(bytewise.frames.map((f) => f.op)).to.deep.equal([
      'text',
      'binary',
      'text',
      'ping',
      'continuation',
      'continuation',
      'close',
    ]);
  });

  it('holds a text frame until it is complete: none of its bytes go on before', () => {
    const message = text('x'.repeat(1000));
    const r = run(cut(message, [10, 500, 999]));
    expect(r.outAfter).to.deep.equal([0, 0, 0, message.length]);
  });

  it('holds a fragmented text message, and a ping inside it, until its last fragment; then all in order', () => {
    const parts = [text('a', false), frame({ op: 'ping', payload: Buffer.from('p') }), cont('b', false), cont('c')];
    const r = run(parts);
    expect(r.outAfter).to.deep.equal([0, 0, 0, Buffer.concat(parts).length]);
    expect(r.out.equals(Buffer.concat(parts))).to.equal(true);
  });

  it('holds a binary frame until it is whole, and a binary message until its last fragment (DLP reads it)', () => {
    const big = frame({ op: 'binary', payload: Buffer.alloc(100_000, 1) });
    expect(run(cut(big, [50_000])).outAfter).to.deep.equal([0, big.length]);
    const parts = [frame({ op: 'binary', payload: Buffer.from('SEC'), fin: false }), cont('RET')];
    const r = run(parts);
    expect(r.out.length).to.equal(0);
    expect(r.findings.map((f) => f.code)).to.deep.equal(['dlp_blocked']);
  });

  it('holds a close frame and a ping until they are whole: a secret in them never leaves in part', () => {
    for (const control of [
      frame({ op: 'close', payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye SECRET')]) }),
      frame({ op: 'ping', payload: Buffer.from('a SECRET in a ping') }),
    ]) {
      for (let at = 1; at < control.length; at++) {
        const r = run(cut(control, [at]));
        expect(r.out.length, `cut at ${at}`).to.equal(0);
        expect(r.findings.map((f) => f.code)).to.deep.equal(['dlp_blocked']);
      }
    }
    const clean = frame({ op: 'ping', payload: Buffer.from('fine') });
    expect(run(cut(clean, [3])).outAfter).to.deep.equal([0, clean.length]);
  });

  it('a secret split over fragments: nothing of its message goes on, only what came before it, then nothing', () => {
    const before = Buffer.concat([text('fine'), frame({ op: 'binary', payload: Buffer.from([1, 2]) })]);
    const secret = Buffer.concat([text('my SEC', false), cont('RET here')]);
    const after = text('more');
    for (let at = 1; at < secret.length; at++) {
      const r = run([before, ...cut(secret, [at]), after]);
      expect(r.out.equals(before), `cut at ${at}`).to.equal(true);
      expect(r.findings.map((f) => f.code)).to.deep.equal(['dlp_blocked']);
    }
  });

  it('report mode: the finding is told, the bytes go on', () => {
    const stream = Buffer.concat([text('a SECRET'), text('b')]);
    const r = run([stream], { enforce: false });
    expect(r.findings).to.have.length(1);
    expect(r.out.equals(stream)).to.equal(true);
  });

  it('a text message past inspect_max_bytes: refused (oversize deny) before any of it goes on, or let through (allow)', () => {
    const long = Buffer.concat([text('x'.repeat(5000), false), cont('y'.repeat(5000))]);
    const denied = run(cut(long, [3000, 7000]), { maxHeld: 4096 });
    expect(denied.out.length).to.equal(0);
    expect(denied.findings.map((f) => f.code)).to.deep.equal(['body_too_large_to_inspect']);
    const allowed = run(cut(long, [3000, 7000]), { maxHeld: 4096, oversize: 'allow' });
    expect(allowed.out.equals(long)).to.equal(true);
    expect(allowed.findings).to.deep.equal([]);
  });

  it('frames it cannot read (an unmasked client frame, a reserved opcode) close it; nothing after them goes on', () => {
    const good = text('ok');
    for (const bad of [
      encodeFrame({ op: 'text', payload: Buffer.from('SECRET') }),
      Buffer.from([0x83, 0x80, 1, 2, 3, 4]),
    ]) {
      const r = run([good, bad, text('a SECRET later')]);
      expect(r.out.equals(good)).to.equal(true);
      expect(r.findings.map((f) => f.code)).to.deep.equal(['body_not_inspectable']);
    }
  });
});
