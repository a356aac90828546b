// Reads the WebSocket frames (RFC 6455) of one direction of one connection as its bytes pass (pure, incremental):
// the runtime pipes the bytes on untouched and hands each chunk here, to learn which frames it completed. Events,
// moat-policy's DLP and the close of a connection read frames from here, not from the sockets. Bounded whatever the
// input: a frame's header (at most 14 bytes), a copy of at most `copyBytes` of a text payload (unmasked), the
// 2-byte close code and at most 3 bytes of a UTF-8 character split between fragments. A payload is never buffered.

export type WsOp = 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong';

const OPS: Readonly<Record<number, WsOp>> = {
  0x0: 'continuation',
  0x1: 'text',
  0x2: 'binary',
  0x8: 'close',
  0x9: 'ping',
  0xa: 'pong',
};

/** The most a control frame may carry (RFC 6455 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

export interface FrameInfo {
  fin: boolean;
  op: WsOp;
  /** RSV1..3 as bits 4, 2, 1 (non-zero: an extension such as permessage-deflate; no text is read then). */
  rsv: number;
  masked: boolean;
  /** Payload bytes. */
  size: number;
  /** Data frames: the message this frame belongs to (a continuation's is the message its first frame began). */
  message?: 'text' | 'binary';
  /**
   * Text frames, continuations of a text message, and a close frame's reason: the payload, unmasked, decoded as
   * UTF-8, at most `copyBytes` of it. Absent when the frame has RSV bits set.
   */
  text?: string;
  /** The payload went on past the copy. */
  textTruncated?: boolean;
  /** Close frames with a payload: the status code. */
  closeCode?: number;
  /** Where the frame ended in the chunk that completed it: the offset just past its last byte (a gate cuts there). */
  end?: number;
}

export interface FrameReaderOptions {
  /** The most payload bytes of one frame copied for `text` (the DLP lookahead included, as a body tap keeps). */
  copyBytes: number;
  /**
   * Who sends the bytes read: a client's frames must be masked and a server's must not (RFC 6455 5.1); a frame
   * that breaks this is a protocol error. Absent: either is taken.
   */
  from?: 'client' | 'server';
  /**
   * Copy every payload, not only text: a binary frame's bytes (as latin1, byte for byte) and a ping's or pong's, for
   * moat-policy's DLP, which reads all a client sends. Events never record these.
   */
  copyAll?: boolean;
}

const utf8 = () => new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export class WsFrameReader {
  private readonly header = Buffer.alloc(14);
  private headerHave = 0;
  /** The frame whose payload is being read (undefined: reading a header). */
  private frame?: FrameInfo;
  private remaining = 0;
  private readonly mask = Buffer.alloc(4);
  private maskAt = 0;
  private copy?: Buffer;
  private copyHave = 0;
  /** The data message in progress (its first frame had no FIN), and its decoder (a character may span fragments). */
  private message?: 'text' | 'binary';
  private decoder = utf8();
  private failure?: string;

  constructor(private readonly options: FrameReaderOptions) {}

  /** Set once the bytes broke the protocol; from then on push() returns nothing (the runtime decides what to do). */
  get error(): string | undefined {
    return this.failure;
  }

  /**
   * The frame whose payload is being read, and how many of its bytes are still to come; undefined between frames.
   * moat-policy's runtime holds a client text frame's bytes until the frame is whole, so that a frame DLP refuses is
   * never sent on in part.
   */
  get partial(): { frame: Readonly<FrameInfo>; remaining: number } | undefined {
    return this.frame && { frame: this.frame, remaining: this.remaining };
  }

  /** The frames this chunk completed, in order. The push that meets a protocol error returns those before it. */
  push(chunk: Buffer): FrameInfo[] {
    const done: FrameInfo[] = [];
    let at = 0;
    while (at < chunk.length && !this.failure) {
      if (!this.frame) {
        at = this.readHeader(chunk, at);
        if (this.frame && this.remaining === 0) done.push(this.finish(at));
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      if (this.copy && this.copyHave < this.copy.length) {
        const n = Math.min(take, this.copy.length - this.copyHave);
        const { masked } = this.frame;
        for (let i = 0; i < n; i++)
          this.copy[this.copyHave++] = masked ? chunk[at + i] ^ this.mask[this.maskAt++ & 3] : chunk[at + i];
      }
      this.remaining -= take;
      at += take;
      if (this.remaining === 0) done.push(this.finish(at));
    }
    return done;
  }

  /** Reads header bytes from chunk[at..]; returns where it stopped. Sets this.frame once the header is whole. */
  private readHeader(chunk: Buffer, at: number): number {
    while (at < chunk.length) {
      this.header[this.headerHave++] = chunk[at++];
      const need = this.headerLength();
      if (need === undefined || this.headerHave < need) continue;
      this.startFrame();
      return at;
    }
    return at;
  }

  /** Bytes the header has, once its first two bytes are known. */
  private headerLength(): number | undefined {
    if (this.headerHave < 2) return undefined;
    const len7 = this.header[1] & 0x7f;
    const masked = (this.header[1] & 0x80) !== 0;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  private startFrame(): void {
    const h = this.header;
    this.headerHave = 0;
    const fin = (h[0] & 0x80) !== 0;
    const rsv = (h[0] >> 4) & 0x7;
    const code = h[0] & 0x0f;
    const masked = (h[1] & 0x80) !== 0;
    const len7 = h[1] & 0x7f;
    let size = len7;
    let off = 2;
    if (len7 === 126) {
      size = h.readUInt16BE(2);
      off = 4;
    } else if (len7 === 127) {
      const high = h.readUInt32BE(2);
      // The most significant bit must be 0 (RFC 6455 5.2); past 2^53 a length is not a safe integer here either.
      if (high > 0x1fffff) return this.fail(`a frame length of 2^${Math.floor(Math.log2(high)) + 32} bytes or more`);
      size = high * 2 ** 32 + h.readUInt32BE(6);
      off = 10;
    }
    if (masked) h.copy(this.mask, 0, off, off + 4);
    this.maskAt = 0;
    const op = OPS[code];
    if (!op) return this.fail(`reserved opcode 0x${code.toString(16)}`);
    if (this.options.from === 'client' && !masked) return this.fail('an unmasked frame from the client');
    if (this.options.from === 'server' && masked) return this.fail('a masked frame from the server');
    const control = code >= 0x8;
    if (control && !fin) return this.fail(`a fragmented ${op} frame`);
    if (control && size > MAX_CONTROL_PAYLOAD) return this.fail(`a ${op} frame of ${size} bytes (at most 125)`);
    // A close frame's payload is empty or begins with a 2-byte status code (RFC 6455 5.5.1).
    if (op === 'close' && size === 1) return this.fail('a close frame of 1 byte');
    let message: 'text' | 'binary' | undefined;
    if (op === 'continuation') {
      if (!this.message) return this.fail('a continuation frame with no fragmented message to continue');
      message = this.message;
    } else if (op === 'text' || op === 'binary') {
      if (this.message) return this.fail(`a ${op} frame inside a fragmented ${this.message} message`);
      message = op;
      if (op === 'text') this.decoder = utf8();
    }
    this.frame = { fin, op, rsv, masked, size, ...(message ? { message } : {}) };
    this.remaining = size;
    const readable = op === 'close' || (rsv === 0 && (message === 'text' || this.options.copyAll === true));
    const copied = op === 'close' ? size : readable ? Math.min(size, this.options.copyBytes) : 0;
    this.copy = copied > 0 ? Buffer.allocUnsafe(copied) : undefined;
    this.copyHave = 0;
    if (message) this.message = fin ? undefined : message;
  }

  private finish(end: number): FrameInfo {
    const frame = this.frame!;
    frame.end = end;
    this.frame = undefined;
    const copy = this.copy?.subarray(0, this.copyHave);
    this.copy = undefined;
    if (frame.op === 'close') {
      if (frame.size >= 2) {
        frame.closeCode = copy!.readUInt16BE(0);
        frame.text = copy!.subarray(2).toString('utf8');
      }
      return frame;
    }
    if (frame.message !== 'text' || frame.rsv !== 0) {
      // copyAll: the bytes of a binary frame, ping or pong, one character each.
      if (copy && frame.rsv === 0) {
        frame.text = copy.toString('latin1');
        if (frame.size > copy.length) frame.textTruncated = true;
      }
      return frame;
    }
    const truncated = frame.size > (copy?.length ?? 0);
    if (truncated) {
      // The rest of this frame is not read: the next fragment's first bytes cannot finish a character of this one.
      frame.text = this.decoder.decode(wholeCharacters(copy ?? Buffer.alloc(0)));
      frame.textTruncated = true;
    } else frame.text = this.decoder.decode(copy ?? Buffer.alloc(0), { stream: !frame.fin });
    return frame;
  }

  private fail(why: string): void {
    this.failure = `WebSocket protocol error: ${why}`;
    this.frame = undefined;
    this.copy = undefined;
  }
}

/** bytes without a UTF-8 character cut at its end (the copy stopped inside it). */
function wholeCharacters(bytes: Buffer): Buffer {
  let start = bytes.length - 1;
  // Back to the last lead byte, at most 3 continuation bytes back.
  while (start >= 0 && bytes.length - start <= 4 && (bytes[start] & 0xc0) === 0x80) start--;
  if (start < 0 || bytes[start] < 0xc0) return bytes;
  const need = bytes[start] >= 0xf0 ? 4 : bytes[start] >= 0xe0 ? 3 : 2;
  return bytes.length - start < need ? bytes.subarray(0, start) : bytes;
}
