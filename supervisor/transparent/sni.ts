// The server name a TLS client asks for, read from its ClientHello (the server_name extension,
// RFC 6066) before any byte is answered. Pure: fed the bytes received so far, it says "more",
// the name, or why there is none. `moat chain run --transparent` opens the tunnel to that name.

export type Sniffed = { kind: 'more' } | { kind: 'name'; name: string } | { kind: 'none'; reason: string };

const RECORD_HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const HOST_NAME = 0;
/** A ClientHello with every extension a browser sends stays far below this. */
export const MAX_HELLO_BYTES = 64 * 1024;

/** The SNI host name of the ClientHello at the start of `data` (TLS records, possibly split across several). */
export function clientHelloServerName(data: Buffer): Sniffed {
  const hello = handshakeMessage(data);
  if (hello.kind !== 'message') return hello;
  return serverNameOf(hello.body);
}

type Message = { kind: 'message'; body: Buffer } | { kind: 'more' } | { kind: 'none'; reason: string };

/** Joins the fragments of the first handshake message from consecutive handshake records. */
function handshakeMessage(data: Buffer): Message {
  const fragments: Buffer[] = [];
  let have = 0;
  let at = 0;
  for (;;) {
    if (data.length < at + 5) return { kind: 'more' };
    if (data[at] !== RECORD_HANDSHAKE)
      return { kind: 'none', reason: at === 0 ? 'not a TLS handshake' : 'the ClientHello is cut by another record' };
    if (data[at + 1] !== 3) return { kind: 'none', reason: 'not a TLS record version' };
    const length = data.readUInt16BE(at + 3);
    if (data.length < at + 5 + length) return { kind: 'more' };
    fragments.push(data.subarray(at + 5, at + 5 + length));
    have += length;
    at += 5 + length;
    if (have < 4) continue;
    const joined = Buffer.concat(fragments);
    if (joined[0] !== CLIENT_HELLO) return { kind: 'none', reason: 'the first handshake message is not a ClientHello' };
    const size = joined.readUIntBE(1, 3);
    if (size + 4 > MAX_HELLO_BYTES) return { kind: 'none', reason: 'the ClientHello is too large' };
    if (have >= size + 4) return { kind: 'message', body: joined.subarray(4, 4 + size) };
  }
}

/** Walks the ClientHello body to its extensions; any length that overruns the body makes it malformed. */
function serverNameOf(body: Buffer): Sniffed {
  const r = new Reader(body);
  r.skip(2 + 32); // client_version, random
  r.skip(r.u8()); // session_id
  r.skip(r.u16()); // cipher_suites
  r.skip(r.u8()); // compression_methods
  if (r.failed) return { kind: 'none', reason: 'malformed ClientHello' };
  if (r.done) return { kind: 'none', reason: 'the ClientHello names no server' };
  const extensions = new Reader(r.bytes(r.u16()));
  while (!extensions.failed && !extensions.done) {
    const type = extensions.u16();
    const data = extensions.bytes(extensions.u16());
    if (type !== EXT_SERVER_NAME || extensions.failed) continue;
    const list = new Reader(data);
    const names = new Reader(list.bytes(list.u16()));
    while (!names.failed && !names.done) {
      const nameType = names.u8();
      const name = names.bytes(names.u16());
      if (nameType === HOST_NAME && !names.failed) {
        const text = name.toString('latin1');
        return isHostName(text)
          ? { kind: 'name', name: text.toLowerCase().replace(/\.$/, '') }
          : { kind: 'none', reason: 'the server name is not a host name' };
      }
    }
    return { kind: 'none', reason: 'malformed server_name extension' };
  }
  return {
    kind: 'none',
    reason: extensions.failed || r.failed ? 'malformed ClientHello' : 'the ClientHello names no server',
  };
}

/**
 * Labels of letters, digits and hyphens joined by dots, at most 253 characters: what ingress takes in `CONNECT
 * name:443`.
 */
export function isHostName(text: string): boolean {
  return text.length > 0 && text.length <= 254 && /^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.?$/.test(text);
}

/** Bounds-checked reads: past the end it returns empty values and remembers it failed. */
class Reader {
  private at = 0;
  failed = false;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  private take(n: number): Buffer {
    if (this.failed || this.at + n > this.buf.length) {
      this.failed = true;
      return Buffer.alloc(0);
    }
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(): number {
    const b = this.take(1);
    return b.length === 1 ? b[0] : 0;
  }

  u16(): number {
    const b = this.take(2);
    return b.length === 2 ? b.readUInt16BE(0) : 0;
  }

  bytes(n: number): Buffer {
    return this.take(n);
  }

  skip(n: number): void {
    this.take(n);
  }
}
