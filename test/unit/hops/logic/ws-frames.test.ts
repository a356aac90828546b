// WebSocket frames read as they pass (hops/logic/ws-frame-reader.ts) and written by Moat (ws-frame-writer.ts): split
// anywhere, masked or not, every length form, fragmented messages, and the protocol errors the runtime must hear of.
import { expect } from 'chai';
import { WsFrameReader, type FrameInfo, type WsOp } from '../../../../hops/logic/ws-frame-reader';
import { closeFrame, encodeFrame, MAX_CLOSE_REASON, type FrameSpec } from '../../../../hops/logic/ws-frame-writer';

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Every frame of `bytes`, pushed in pieces cut at `cuts`; `end` made an offset in `bytes` (the same however cut). */
function readAll(bytes: Buffer, cuts: number[], copyBytes = 1 << 20, from?: 'client' | 'server') {
  const reader = new WsFrameReader({ copyBytes, from });
  const frames: FrameInfo[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    frames.push(...reader.push(bytes.subarray(at, cut)).map((f) => ({ ...f, end: at + f.end! })));
    at = cut;
  }
  return { frames, error: reader.error, reader };
}

const text = (s: string, o: Partial<FrameSpec> = {}) => encodeFrame({ op: 'text', payload: Buffer.from(s), ...o });

describe('WebSocket frame reader', () => {
  const cases: { name: string; bytes: Buffer; expect: Partial<FrameInfo>[] }[] = [
    { name: 'a short text frame', bytes: text('hello'), expect: [{ op: 'text', fin: true, size: 5, text: 'hello' }] },
    {
      name: 'a masked text frame, unmasked',
      bytes: text('hello', { mask: MASK }),
      expect: [{ op: 'text', masked: true, size: 5, text: 'hello' }],
    },
    {
      name: 'a 16-bit length',
      bytes: text('x'.repeat(300)),
      expect: [{ op: 'text', size: 300, text: 'x'.repeat(300) }],
    },
    {
      name: 'a 64-bit length',
      bytes: encodeFrame({ op: 'binary', payload: Buffer.alloc(70_000, 1), mask: MASK }),
      expect: [{ op: 'binary', size: 70_000, message: 'binary', text: undefined }],
    },
    {
      name: 'a close frame: code and reason',
      bytes: closeFrame(1008, 'policy', MASK),
      expect: [{ op: 'close', closeCode: 1008, text: 'policy', size: 8 }],
    },
    {
      name: 'an empty close frame',
      bytes: encodeFrame({ op: 'close', payload: Buffer.alloc(0) }),
      expect: [{ op: 'close', size: 0 }],
    },
    {
      name: 'a fragmented text message with a ping between its fragments',
      bytes: Buffer.concat([
        text('ab', { fin: false }),
        encodeFrame({ op: 'ping', payload: Buffer.from('p') }),
        encodeFrame({ op: 'continuation', payload: Buffer.from('cd') }),
      ]),
      expect: [
        { op: 'text', fin: false, message: 'text', text: 'ab' },
        { op: 'ping', size: 1, text: undefined },
        { op: 'continuation', fin: true, message: 'text', text: 'cd' },
      ],
    },
    {
      name: 'a character split between two fragments',
      bytes: Buffer.concat([
        encodeFrame({ op: 'text', payload: Buffer.from('é').subarray(0, 1), fin: false }),
        encodeFrame({ op: 'continuation', payload: Buffer.from('é').subarray(1) }),
      ]),
      expect: [{ text: '' }, { text: 'é' }],
    },
    {
      name: 'RSV bits: size only, no text',
      bytes: text('compressed?', { rsv: 4 }),
      expect: [{ op: 'text', rsv: 4, size: 11, text: undefined }],
    },
  ];
  for (const c of cases) {
    it(`${c.name}, whole and byte by byte`, () => {
      const whole = readAll(c.bytes, []);
      expect(whole.error).to.equal(undefined);
      const bytewise = readAll(
        c.bytes,
        [...Array(c.bytes.length).keys()].filter((i) => i > 0),
      );
      expect(bytewise.frames).to.deep.equal(whole.frames);
      expect(whole.frames).to.have.length(c.expect.length);
      c.expect.forEach((e, i) => {
        for (const [k, v] of Object.entries(e))
          expect(whole.frames[i][k as keyof FrameInfo], `${i}.${k}`).to.deep.equal(v);
      });
    });
  }

  it('copies at most copyBytes of a text payload, never cutting a character, and says it was cut', () => {
    const { frames } = readAll(text('aé' + 'b'.repeat(100)), [], 2);
    expect(frames[0]).to.include({ text: 'a', textTruncated: true, size: 103 });
    const tail = readAll(text('abc'), [], 3).frames[0];
    expect(tail.textTruncated).to.equal(undefined);
  });

  const errors: { name: string; bytes: Buffer; from?: 'client' | 'server'; says: RegExp }[] = [
    {
      name: 'a ping over 125 bytes',
      bytes: encodeFrame({ op: 'ping', payload: Buffer.alloc(126) }),
      says: /ping frame of 126/,
    },
    {
      name: 'a fragmented close',
      bytes: encodeFrame({ op: 'close', payload: Buffer.alloc(2), fin: false }),
      says: /fragmented close/,
    },
    {
      name: 'a 1-byte close',
      bytes: encodeFrame({ op: 'close', payload: Buffer.alloc(1) }),
      says: /close frame of 1 byte/,
    },
    { name: 'a reserved opcode', bytes: Buffer.from([0x83, 0x00]), says: /reserved opcode 0x3/ },
    {
      name: 'a continuation out of nowhere',
      bytes: encodeFrame({ op: 'continuation', payload: Buffer.from('x') }),
      says: /no fragmented message/,
    },
    {
      name: 'a new text frame inside a fragmented message',
      bytes: Buffer.concat([text('a', { fin: false }), text('b')]),
      says: /text frame inside a fragmented text/,
    },
    {
      name: 'a length with its top bit set',
      bytes: Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]),
      says: /frame length/,
    },
    { name: 'an unmasked client frame', bytes: text('a'), from: 'client', says: /unmasked frame from the client/ },
    {
      name: 'a masked server frame',
      bytes: text('a', { mask: MASK }),
      from: 'server',
      says: /masked frame from the server/,
    },
  ];
  for (const c of errors) {
    it(`reports ${c.name} once, then reads nothing more`, () => {
      const reader = new WsFrameReader({ copyBytes: 64, from: c.from });
      const before = text('ok', c.from === 'client' ? { mask: MASK } : {});
      expect(reader.push(Buffer.concat([before, c.bytes])).length).to.be.at.least(1);
      expect(reader.error).to.match(c.says);
      expect(reader.push(before)).to.deep.equal([]);
    });
  }

  it('says which frame it is inside and how much of it is to come', () => {
    const reader = new WsFrameReader({ copyBytes: 64 });
    const bytes = text('hello', { mask: MASK });
    expect(reader.push(bytes.subarray(0, 4))).to.deep.equal([]);
    expect(reader.partial).to.equal(undefined); // the header is not whole yet
    reader.push(bytes.subarray(4, 8));
    expect(reader.partial).to.deep.include({ remaining: 3 });
    expect(reader.partial!.frame).to.include({ op: 'text', size: 5 });
    expect(reader.push(bytes.subarray(8))).to.have.length(1);
    expect(reader.partial).to.equal(undefined);
  });

  it('keeps bounded state: a gigabyte frame costs no more memory than its header', () => {
    const reader = new WsFrameReader({ copyBytes: 16 });
    const header = Buffer.from([0x81, 0x7f, 0, 0, 0, 0, 0x40, 0, 0, 0]); // text, 1 GiB
    expect(reader.push(header)).to.deep.equal([]);
    const chunk = Buffer.alloc(1 << 20, 0x61);
    let frames: FrameInfo[] = [];
    for (let i = 0; i < 1024; i++) frames = frames.concat(reader.push(chunk));
    expect(frames).to.have.length(1);
    expect(frames[0]).to.include({ size: 1 << 30, text: 'a'.repeat(16), textTruncated: true });
  });

  it('random frames, cut at random places, read as the whole buffer reads them', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const specs: FrameSpec[] = [];
      let open = false;
      for (let i = 0; i < 12; i++) {
        const size = [0, 5, 125, 126, 300, 65535, 65536, 70000][rand(8)];
        const kind = rand(5);
        const mask = rand(2) ? Buffer.from([rand(256), rand(256), rand(256), rand(256)]) : undefined;
        if (kind === 0) {
          specs.push({
            op: (['ping', 'pong', 'close'] as WsOp[])[rand(3)],
            payload: Buffer.alloc([0, 2, 50, 125][rand(4)], 0x41),
            mask,
          });
          continue;
        }
        const payload = Buffer.from('é✓a'.repeat(size).slice(0, size));
        const fin = rand(3) > 0;
        specs.push({ op: open ? 'continuation' : rand(2) ? 'text' : 'binary', payload, fin, mask });
        open = !fin;
      }
      const bytes = Buffer.concat(specs.map(encodeFrame));
      const cuts = [...new Set([...Array(rand(30)).keys()].map(() => rand(bytes.length)))].sort((a, b) => a - b);
      const whole = readAll(bytes, [], 200);
      const pieces = readAll(bytes, cuts, 200);
      expect(pieces.error).to.equal(undefined);
      expect(pieces.frames).to.deep.equal(whole.frames);
      // Each frame ends where the next begins, the last at the end of the bytes (a gate cuts at `end`).
      const ends = specs.reduce<number[]>((acc, s) => [...acc, (acc.at(-1) ?? 0) + encodeFrame(s).length], []);
      expect(whole.frames.map((f) => f.end)).to.deep.equal(ends);
      expect(whole.frames.map((f) => [f.op, f.size, f.fin])).to.deep.equal(
        specs.map((s) => [s.op, s.payload.length, s.fin !== false]),
      );
      whole.frames.forEach((f, i) => {
        const s = specs[i];
        if (f.message === 'text' && !f.textTruncated && f.text !== undefined) {
          // A character cut between fragments shows in the fragment that ends it.
          expect(Buffer.from(f.text).length).to.be.at.most(s.payload.length + 3);
        }
        if (s.op === 'close' && s.payload.length >= 2) expect(f.closeCode).to.equal(s.payload.readUInt16BE(0));
      });
      // Copied whole, a text message's fragments joined are its payloads joined, characters cut between them included.
      let joined = '';
      let sent: Buffer[] = [];
      readAll(bytes, cuts).frames.forEach((f, i) => {
        if (f.message !== 'text') return;
        joined += f.text;
        sent.push(specs[i].payload);
        if (!f.fin) return;
        expect(joined).to.equal(Buffer.concat(sent).toString('utf8'));
        joined = '';
        sent = [];
      });
    }
  });
});

describe('WebSocket frame writer', () => {
  it('round-trips every opcode, masked and not, through the reader', () => {
    for (const op of ['text', 'binary', 'ping', 'pong'] as WsOp[])
      for (const mask of [undefined, MASK]) {
        const { frames, error } = readAll(encodeFrame({ op, payload: Buffer.from('abc'), mask }), []);
        expect(error).to.equal(undefined);
        expect(frames[0]).to.include({ op, size: 3, masked: mask !== undefined, fin: true });
      }
  });

  it('closeFrame: code and reason, a fresh mask towards the server, the reason cut to 123 bytes on a character', () => {
    const toServer = readAll(closeFrame(1008, 'dlp_blocked', true), [], 64, 'client');
    expect(toServer.error).to.equal(undefined);
    expect(toServer.frames[0]).to.include({ op: 'close', masked: true, closeCode: 1008, text: 'dlp_blocked' });
    const toClient = readAll(closeFrame(1008, 'é'.repeat(100), false), [], 64, 'server');
    expect(toClient.error).to.equal(undefined);
    const reason = toClient.frames[0].text!;
    expect(Buffer.byteLength(reason)).to.be.at.most(MAX_CLOSE_REASON);
    expect(reason).to.equal('é'.repeat(61));
  });
});
