// Encodes WebSocket frames (RFC 6455, pure): what a Moat process sends itself on a connection it otherwise only
// pipes, moat-policy's close with 1008 (policy violation) to both sides. Frames towards a server are masked
// (a client's must be), frames towards a client are not.
import { randomBytes } from 'node:crypto';
import type { WsOp } from './ws-frame-reader';

const CODES: Readonly<Record<WsOp, number>> = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
};

/** 1008: the endpoint received a message that violates its policy (RFC 6455 7.4.1). */
export const CLOSE_POLICY_VIOLATION = 1008;
/** 1014: a gateway got no valid answer from the server it stands for (IANA's WebSocket close code registry). */
export const CLOSE_BAD_GATEWAY = 1014;

export interface FrameSpec {
  op: WsOp;
  payload: Buffer;
  /** Default true. */
  fin?: boolean;
  /** RSV1..3 as bits 4, 2, 1 (tests only: Moat sends no extension). */
  rsv?: number;
  /** The masking key (4 bytes) for a frame towards a server; absent: unmasked. */
  mask?: Buffer;
}

export function encodeFrame(f: FrameSpec): Buffer {
  const size = f.payload.length;
  const ext = size < 126 ? 0 : size < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (f.mask ? 4 : 0));
  head[0] = (f.fin === false ? 0 : 0x80) | ((f.rsv ?? 0) << 4) | CODES[f.op];
  head[1] = (f.mask ? 0x80 : 0) | (ext === 0 ? size : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(size, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(size), 2);
  if (!f.mask) return Buffer.concat([head, f.payload]);
  if (f.mask.length !== 4) throw new Error('a WebSocket masking key is 4 bytes');
  f.mask.copy(head, 2 + ext);
  const body = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) body[i] = f.payload[i] ^ f.mask[i & 3];
  return Buffer.concat([head, body]);
}

/** The most bytes of a close reason: a control frame carries 125, the code takes 2. */
export const MAX_CLOSE_REASON = 123;

/**
 * A close frame with `code` and `reason` (cut to 123 bytes, never inside a character). masked: true for a frame
 * towards the server (a fresh random key), or the key to use.
 */
export function closeFrame(code: number, reason: string, masked: boolean | Buffer): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > MAX_CLOSE_REASON) {
    let cut = MAX_CLOSE_REASON;
    while (cut > 0 && (text[cut] & 0xc0) === 0x80) cut--;
    text = text.subarray(0, cut);
  }
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  const mask = masked === true ? randomBytes(4) : masked === false ? undefined : masked;
  return encodeFrame({ op: 'close', payload, mask });
}
