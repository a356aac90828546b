// The DNS answers of a transparent run (RFC 1035 wire format, only what a stub resolver sends):
// every A question gets one fixed address (where the namespace's traffic is captured), any other
// type an empty NOERROR answer, so clients fall back to A. Pure: a query in, a response out.

export interface DnsQuestion {
  id: number;
  /** Recursion desired, echoed in the response. */
  rd: boolean;
  /** The question as it appeared on the wire (name, type, class), echoed in the response. */
  raw: Buffer;
  name: string;
  type: number;
  class: number;
}

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_NOTIMP = 4;

/** The first question of a standard query; undefined when it is not one (a response, another opcode, malformed). */
export function parseQuery(msg: Buffer): DnsQuestion | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  const qr = flags >> 15;
  const opcode = (flags >> 11) & 0xf;
  if (qr !== 0 || opcode !== 0 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at];
    // A compression pointer (0xC0) or reserved bits: never in a question a stub resolver sends.
    if (len > 63) return undefined;
    at += 1;
    if (len === 0) break;
    if (at + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', at, at + len));
    at += len;
  }
  if (at + 4 > msg.length || at - 12 > 255) return undefined;
  return {
    id: msg.readUInt16BE(0),
    rd: ((flags >> 8) & 1) === 1,
    raw: msg.subarray(12, at + 4),
    name: labels.join('.'),
    type: msg.readUInt16BE(at),
    class: msg.readUInt16BE(at + 2),
  };
}

export interface AnswerOptions {
  /** The IPv4 address every A question gets. */
  address: string;
  ttl: number;
}

/**
 * The response to `msg`: A (class IN) gets `address`; AAAA and every other type an empty NOERROR answer;
 * another opcode NOTIMP; a malformed query FORMERR. Undefined for what must not be answered (a response,
 * fewer than 12 bytes).
 */
export function dnsResponse(msg: Buffer, o: AnswerOptions): Buffer | undefined {
  if (msg.length < 12 || msg[2] >> 7 === 1) return undefined;
  const q = parseQuery(msg);
  if (!q) {
    const opcode = (msg[2] >> 3) & 0xf;
    return header(msg.readUInt16BE(0), opcode, (msg[2] & 1) === 1, opcode === 0 ? RCODE_FORMERR : RCODE_NOTIMP, 0, 0);
  }
  const answer = q.type === TYPE_A && q.class === CLASS_IN ? aRecord(o) : undefined;
  return Buffer.concat([header(q.id, 0, q.rd, 0, 1, answer ? 1 : 0), q.raw, ...(answer ? [answer] : [])]);
}

function header(id: number, opcode: number, rd: boolean, rcode: number, questions: number, answers: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  // QR=1, opcode, AA=1, RD as asked, RA=1, rcode.
  h.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400 | (rd ? 0x0100 : 0) | 0x0080 | rcode, 2);
  h.writeUInt16BE(questions, 4);
  h.writeUInt16BE(answers, 6);
  return h;
}

function aRecord(o: AnswerOptions): Buffer {
  const parts = o.address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`not an IPv4 address: ${o.address}`);
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's, at offset 12
  rr.writeUInt16BE(TYPE_A, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(o.ttl, 6);
  rr.writeUInt16BE(4, 10);
  Buffer.from(parts).copy(rr, 12);
  return rr;
}
