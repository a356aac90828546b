// WebSocket frames in events (hops/events/ws-events.ts): the bounds of a frames event (64 frames, 200 ms, 256 a second,
// 64 KiB of text), text masked by DLP as bodies are and absent in capture metadata, and the close's response event.
import { expect } from 'chai';
import type { BoundaryInfo, CaptureMode } from '../../../../hops/events/boundary-events';
import {
  FRAMES_EVENT_DELAY_MS,
  FRAMES_PER_EVENT,
  FRAMES_PER_SECOND,
  FRAMES_TEXT_BYTES,
  framesEvent,
  frameCopyBytes,
  websocketCloseEvent,
  WsFrameLog,
} from '../../../../hops/events/ws-events';
import { LOOKAHEAD_BYTES } from '../../../../hops/events/capture-body';
import { WsFrameReader, type FrameInfo } from '../../../../hops/logic/ws-frame-reader';
import { closeFrame, encodeFrame } from '../../../../hops/logic/ws-frame-writer';
import type { RequestView } from '../../../../hops/logic/view';
import { fake } from '../../../helpers/fake-secrets';
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../helpers/repo-root';
import type { MoatEvent } from '../../../../schemas/generated/event';

const validEvent = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'event.schema.json'), 'utf8')) as object,
);
const schemaErrors = (e: MoatEvent) => (validEvent(e) ? [] : validEvent.errors);

const VIEW: RequestView = {
  method: 'GET',
  scheme: 'https',
  host: 'api.openai.com',
  port: 443,
  path: '/v1/responses',
  headers: { upgrade: 'websocket' },
  trace: 't1',
};
const info = (capture: CaptureMode): BoundaryInfo => ({
  chain: 'c',
  hop: 2,
  hopName: 'moat-policy',
  boundary: 1,
  capture,
});
const log = (capture: CaptureMode, captureLimit = 65536) => new WsFrameLog({ capture, captureLimit, startMs: 1000 });

/** A close event's `websocket`: who, the code, then bytes up and down, frames up and down. */
const closed = (by: string, code: number, [bu, bd, fu, fd]: number[]) => ({
  closed_by: by,
  close_code: code,
  bytes_up: bu,
  bytes_down: bd,
  frames_up: fu,
  frames_down: fd,
});

/** The frame a reader makes of `text` sent as a text frame. */
function textFrame(text: string, captureLimit = 65536): FrameInfo {
  const reader = new WsFrameReader({ copyBytes: frameCopyBytes(captureLimit) });
  return reader.push(encodeFrame({ op: 'text', payload: Buffer.from(text), mask: Buffer.from([1, 2, 3, 4]) }))[0];
}

describe('WebSocket frames events', () => {
  it('lists frames with direction, op, size, fin, time since the handshake; text masked by DLP in every capture', () => {
    const key = fake.anthropicKey();
    for (const capture of ['full', 'redacted'] as CaptureMode[]) {
      const l = log(capture);
      l.add('client', textFrame(`use ${key} now`), 1012.3456);
      l.add('server', { op: 'binary', fin: true, rsv: 0, masked: false, size: 9, message: 'binary' }, 1013);
      const e = framesEvent(info(capture), VIEW, l.take()!);
      expect(e).to.include({
        direction: 'frames',
        trace: 't1',
        hop: 2,
        boundary: 1,
        method: 'GET',
        path: '/v1/responses',
      });
      expect(e.frames).to.deep.equal([
        {
          from: 'client',
          op: 'text',
          size: key.length + 8,
          fin: true,
          at_ms: 12.346,
          text: 'use [REDACTED:anthropic_key] now',
        },
        { from: 'server', op: 'binary', size: 9, fin: true, at_ms: 13 },
      ]);
      expect(JSON.stringify(e)).not.to.include(key);
      expect(e.frames_dropped).to.equal(undefined);
    }
  });

  it('keeps no text in capture metadata, not even a close reason', () => {
    const l = log('metadata');
    l.add('client', textFrame('hello there'), 1001);
    const close = new WsFrameReader({ copyBytes: 64 }).push(closeFrame(1000, 'bye now', false))[0];
    l.add('server', close, 1002);
    const e = framesEvent(info('metadata'), VIEW, l.take()!);
    expect(e.frames!.map((f) => f.text)).to.deep.equal([undefined, undefined]);
    expect(e.frames![1].close_code).to.equal(1000);
    const end = websocketCloseEvent(info('metadata'), VIEW, {
      status: 101,
      elapsedMs: 5,
      ttfbMs: 1,
      closedBy: 'server',
      closeCode: 1000,
      closeReason: 'bye now',
      bytesUp: 20,
      bytesDown: 11,
      framesUp: 1,
      framesDown: 1,
    });
    expect(end.websocket).to.deep.equal(closed('server', 1000, [20, 11, 1, 1]));
  });

  it('is due at 64 frames, or 200 ms after its first frame; nothing pending is never due', () => {
    const l = log('metadata');
    expect(l.dueAt()).to.equal(undefined);
    expect(l.take()).to.equal(undefined);
    const f = textFrame('x');
    expect(l.add('client', f, 1000)).to.equal(false);
    expect(l.due(1000 + FRAMES_EVENT_DELAY_MS - 1)).to.equal(false);
    expect(l.due(1000 + FRAMES_EVENT_DELAY_MS)).to.equal(true);
    let full = false;
    for (let i = 1; i < FRAMES_PER_EVENT; i++) full = l.add('client', f, 1001);
    expect(full).to.equal(true);
    expect(l.due(1001)).to.equal(true);
    expect(l.take()!.frames).to.have.length(FRAMES_PER_EVENT);
    expect(l.dueAt()).to.equal(undefined);
  });

  it('lists at most 256 frames a second and counts the rest in frames_dropped of the next event', () => {
    const l = log('metadata');
    const f = textFrame('x');
    let listed = 0;
    let dropped = 0;
    for (let i = 0; i < 1000; i++) {
      if (l.add('server', f, 1000 + i / 10)) {
        const b = l.take()!;
        listed += b.frames.length;
        dropped += b.dropped;
      }
    }
    const rest = l.take()!;
    expect(listed + rest.frames.length).to.equal(FRAMES_PER_SECOND);
    expect(dropped + rest.dropped).to.equal(1000 - FRAMES_PER_SECOND);
    expect(framesEvent(info('metadata'), VIEW, rest).frames_dropped).to.equal(rest.dropped);
    // The next second lists again.
    l.add('server', f, 2500);
    expect(l.take()!.frames).to.have.length(1);
    expect(l.framesDown).to.equal(1001);
  });

  it('never holds more than 64 frames when the runtime does not take a full batch', () => {
    const l = log('metadata');
    for (let i = 0; i < 100; i++) l.add('client', textFrame('x'), 1000);
    const b = l.take()!;
    expect(b.frames).to.have.length(FRAMES_PER_EVENT);
    expect(b.dropped).to.equal(100 - FRAMES_PER_EVENT);
  });

  it('cuts a frame at capture.max_body_bytes and an event at 64 KiB of text, marking text_truncated', () => {
    const l = log('full', 10);
    l.add('client', textFrame('0123456789abcdef', 10), 1000);
    expect(l.take()!.frames[0]).to.include({ text: '0123456789', text_truncated: true });
    const big = log('full', 40 * 1024);
    const chunk = 'word '.repeat(8 * 1024); // 40 KiB
    big.add('client', textFrame(chunk, 40 * 1024), 1000);
    big.add('client', textFrame(chunk, 40 * 1024), 1001);
    big.add('client', textFrame(chunk, 40 * 1024), 1002);
    const frames = big.take()!.frames;
    const bytes = frames.reduce((n, f) => n + Buffer.byteLength(f.text ?? ''), 0);
    expect(bytes).to.be.at.most(FRAMES_TEXT_BYTES);
    expect(frames[0].text_truncated).to.equal(undefined);
    expect(frames[1].text_truncated).to.equal(true);
    expect(frames[2]).to.include({ text_truncated: true });
    expect(frames[2].text).to.equal(undefined);
  });

  it('never shows the start of a secret straddling the cut', () => {
    const key = fake.openAiKey();
    const l = log('full', 20);
    l.add('client', textFrame(`aaaa bbbb cccc ${key}`, 20), 1000);
    const text = l.take()!.frames[0].text!;
    expect(text).not.to.include(key.slice(0, 5));
  });

  it('the close event: status 101, the connection life, who closed, bytes and frames each way, reason masked', () => {
    const key = fake.githubToken();
    const e = websocketCloseEvent(info('redacted'), VIEW, {
      status: 101,
      headers: { upgrade: 'websocket', 'sec-websocket-accept': 'abc=' },
      elapsedMs: 1234.56789,
      ttfbMs: 3.21,
      closedBy: 'moat',
      closeCode: 1008,
      closeReason: `leak ${key}`,
      bytesUp: 100,
      bytesDown: 200,
      framesUp: 3,
      framesDown: 4,
      error: 'dlp_blocked',
      decision: { action: 'deny', rule: 'dlp', reason: 'text frame contains github_token' },
    });
    expect(e).to.include({
      direction: 'response',
      status: 101,
      elapsed_ms: 1234.568,
      ttfb_ms: 3.21,
      error: 'dlp_blocked',
    });
    expect(e).to.include({ decision: 'deny', rule: 'dlp' });
    expect(e.header_names).to.deep.equal(['sec-websocket-accept', 'upgrade']);
    expect(e.websocket).to.deep.equal({
      ...closed('moat', 1008, [100, 200, 3, 4]),
      close_reason: 'leak [REDACTED:github_token]',
    });
  });

  it('what it builds is valid against schemas/event.schema.json', () => {
    const l = log('full');
    const reader = new WsFrameReader({ copyBytes: 64 });
    l.add('client', textFrame('{"type":"response.create"}'), 1001);
    l.add('server', reader.push(closeFrame(1000, 'bye', false))[0], 1002);
    for (let i = 0; i < 300; i++) l.add('server', { op: 'pong', fin: true, rsv: 0, masked: false, size: 0 }, 1003);
    const batch = l.take()!;
    expect(batch.dropped).to.be.above(0);
    expect(
      schemaErrors(framesEvent(info('full'), VIEW, batch, { provider: { adapter: 'openai-responses' } })),
    ).to.deep.equal([]);
    const end = websocketCloseEvent(info('full'), VIEW, {
      status: 101,
      headers: { upgrade: 'websocket' },
      elapsedMs: 3,
      ttfbMs: 1,
      closedBy: 'abort',
      bytesUp: 0,
      bytesDown: 0,
      framesUp: 0,
      framesDown: 0,
      error: 'client_aborted',
    });
    expect(schemaErrors(end)).to.deep.equal([]);
    expect(schemaErrors({ ...end, websocket: { ...end.websocket!, closed_by: 'nobody' as 'moat' } })).not.to.deep.equal(
      [],
    );
  });

  it('remembers the first close frame and counts frames each way', () => {
    const l = log('full');
    const reader = new WsFrameReader({ copyBytes: 64 });
    l.add('client', reader.push(closeFrame(4000, 'done', false))[0], 1000);
    l.add('server', new WsFrameReader({ copyBytes: 64 }).push(closeFrame(1000, '', false))[0], 1001);
    expect(l.firstClose).to.deep.equal({ from: 'client', code: 4000, reason: 'done' });
    expect([l.framesUp, l.framesDown]).to.deep.equal([1, 1]);
  });

  it('the reader copies the capture limit and the DLP lookahead, or what moat-policy inspects', () => {
    expect(frameCopyBytes(100)).to.equal(100 + LOOKAHEAD_BYTES);
    expect(frameCopyBytes(100, 1 << 20)).to.equal(1 << 20);
  });

  it('costs a few microseconds a frame', () => {
    const l = log('redacted');
    const frames = [textFrame('{"type":"response.output_text.delta","delta":"Hello, wor"}'), textFrame('ok')];
    const n = 20_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      if (l.add('server', frames[i & 1], 1000 + i * 5)) l.take();
    }
    const perFrameUs = Number(process.hrtime.bigint() - t0) / n / 1000;
    expect(perFrameUs).to.be.below(50); // about 1-3 µs here; loose for a loaded machine
  });
});
