// A WebSocket client for tests, written here from RFC 6455 (no library: the fake provider's `ws` server and moat's own
// frame handling are checked against an implementation neither shares). It reaches a wss:// URL as an agent does
// through the chain: CONNECT to an HTTP proxy with Proxy-Authorization, TLS inside the tunnel trusting the given CA,
// then the handshake; or straight to a host:port. No extensions are offered (frames stay plain). A refused handshake
// rejects with WebSocketRefused: its status, headers and body.
import net from 'node:net';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface WsConnectOptions {
  /** wss://host[:port]/path (TLS) or ws://host[:port]/path. */
  url: string;
  /** An HTTP proxy to CONNECT through (the chain's ingress); `auth` is user:password for Proxy-Authorization. */
  proxy?: { host?: string; port: number; auth?: string };
  /** Without a proxy: where to connect instead of the URL's host (the fake provider's 127.0.0.1:port). */
  connectTo?: { host: string; port: number };
  /** CA(s) the server's certificate must chain to (PEM). */
  ca?: string | Buffer;
  headers?: Record<string, string>;
  protocols?: string[];
  timeoutMs?: number;
}

export interface WsMessage {
  type: 'text' | 'binary';
  data: Buffer;
  text: string;
}

export interface WsClose {
  /** The peer's close code (undefined: its close frame had none, or the socket ended without one). */
  code?: number;
  reason: string;
  /** A close frame was received (false: the connection ended without one). */
  frame: boolean;
}

export class WebSocketRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: string,
  ) {
    super(`WebSocket handshake refused: ${status} ${body.slice(0, 200)}`);
  }
}

/** The head of an HTTP response in `buf`, once complete. */
function parseHead(buf: Buffer): { status: number; headers: Record<string, string>; rest: Buffer } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, rest: buf.subarray(end + 4) };
}

/** Reads from `socket` until a response head is complete; `rest` is what came after it. */
function readHead(socket: net.Socket, timeoutMs: number): Promise<ReturnType<typeof parseHead> & object> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('no response head in time')), timeoutMs);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const head = parseHead(buf);
      if (head) done(undefined, head);
    };
    const onEnd = () => done(new Error(`connection ended before a response head: ${buf.toString('latin1')}`));
    const done = (err?: Error, head?: ReturnType<typeof parseHead>) => {
      clearTimeout(timer);
      socket.off('data', onData).off('end', onEnd).off('error', done);
      // Bytes after the head wait for the next reader (the frames of an upgraded connection).
      socket.pause();
      if (err) reject(err);
      else resolve(head!);
    };
    socket.on('data', onData).on('end', onEnd).on('error', done);
  });
}

/** The rest of a refused handshake's body: content-length bytes, or until the server closes (1 s at most). */
async function refusedBody(socket: net.Socket, head: { headers: Record<string, string>; rest: Buffer }) {
  let body = head.rest;
  const length = Number(head.headers['content-length'] ?? NaN);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(finish, 1000);
    function finish() {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve();
    }
    function onData(d: Buffer) {
      body = Buffer.concat([body, d]);
      if (body.length >= length) finish();
    }
    if (body.length >= length) return finish();
    socket.on('data', onData).once('end', finish).once('close', finish);
    socket.resume();
  });
  socket.destroy();
  return body.toString('utf8');
}

/** One frame, masked as a client must. */
export function encodeFrame(op: number, payload: Buffer, fin = true): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (fin ? 0x80 : 0) | op;
  if (len < 126) head[1] = 0x80 | len;
  else if (len < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

export class WsClient {
  /** Pings the server sent (answered with a pong), and pongs it sent back to ours. */
  readonly pings: Buffer[] = [];
  readonly pongs: Buffer[] = [];
  /** Resolves when the connection has ended: the peer's close frame, or none. */
  readonly closed: Promise<WsClose>;
  private buf: Buffer = Buffer.alloc(0);
  private readonly queue: WsMessage[] = [];
  private readonly waiting: { resolve: (m: WsMessage) => void; reject: (e: Error) => void }[] = [];
  private fragments: Buffer[] = [];
  private fragmentOp = 0;
  private sentClose = false;
  private peerClose?: WsClose;
  private ended = false;
  private resolveClosed!: (c: WsClose) => void;

  constructor(
    private readonly socket: net.Socket,
    /** The handshake's answer (101) headers. */
    readonly headers: Record<string, string>,
    rest: Buffer,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('data', (d: Buffer) => this.data(d));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.end());
    if (rest.length) this.data(rest);
    socket.resume();
  }

  sendText(text: string): void {
    this.socket.write(encodeFrame(OP.text, Buffer.from(text, 'utf8')));
  }

  sendBinary(data: Buffer): void {
    this.socket.write(encodeFrame(OP.binary, data));
  }

  /** A message in several frames (the first with `op`, then continuations). */
  sendFragments(op: 'text' | 'binary', parts: Buffer[]): void {
    parts.forEach((p, i) =>
      this.socket.write(encodeFrame(i === 0 ? OP[op] : OP.continuation, p, i === parts.length - 1)),
    );
  }

  ping(data = Buffer.alloc(0)): void {
    this.socket.write(encodeFrame(OP.ping, data));
  }

  /** Writes raw bytes (a malformed frame, a frame with RSV bits set). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next text or binary message; rejects when the connection ends first or after `timeoutMs`. */
  next(timeoutMs = 10_000): Promise<WsMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Error('the connection has ended'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  /** Sends a close frame and waits for the peer's (or for the connection to end). */
  close(code?: number, reason = ''): Promise<WsClose> {
    if (!this.sentClose && !this.ended) {
      this.sentClose = true;
      const payload =
        code === undefined
          ? Buffer.alloc(0)
          : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason, 'utf8')]);
      this.socket.write(encodeFrame(OP.close, payload));
    }
    return this.closed;
  }

  /** Ends the TCP connection without a close frame. */
  abort(): void {
    this.socket.destroy();
  }

  private data(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = (this.buf[0] & 0x80) !== 0;
      const op = this.buf[0] & 0x0f;
      const masked = (this.buf[1] & 0x80) !== 0;
      let len = this.buf[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      const maskAt = at;
      if (masked) at += 4;
      if (this.buf.length < at + len) return;
      const payload = Buffer.from(this.buf.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= this.buf[maskAt + (i & 3)];
      this.buf = this.buf.subarray(at + len);
      this.frame(op, fin, payload);
    }
  }

  private frame(op: number, fin: boolean, payload: Buffer): void {
    if (op === OP.ping) {
      this.pings.push(payload);
      if (!this.sentClose) this.socket.write(encodeFrame(OP.pong, payload));
      return;
    }
    if (op === OP.pong) return void this.pongs.push(payload);
    if (op === OP.close) {
      this.peerClose = {
        code: payload.length >= 2 ? payload.readUInt16BE(0) : undefined,
        reason: payload.subarray(2).toString('utf8'),
        frame: true,
      };
      if (!this.sentClose) {
        this.sentClose = true;
        this.socket.write(encodeFrame(OP.close, payload.subarray(0, 2)));
      }
      this.socket.end();
      return;
    }
    if (op !== OP.continuation) this.fragmentOp = op;
    this.fragments.push(payload);
    if (!fin) return;
    const data = Buffer.concat(this.fragments);
    this.fragments = [];
    const message: WsMessage = {
      type: this.fragmentOp === OP.text ? 'text' : 'binary',
      data,
      text: data.toString('utf8'),
    };
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(message);
    else this.queue.push(message);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('the connection has ended'));
    this.resolveClosed(this.peerClose ?? { reason: '', frame: false });
  }
}

/** Opens a WebSocket (through the proxy when given); rejects with WebSocketRefused when the answer is not 101. */
export async function connectWebSocket(o: WsConnectOptions): Promise<WsClient> {
  const url = new URL(o.url);
  const secure = url.protocol === 'wss:';
  const port = Number(url.port || (secure ? 443 : 80));
  const timeoutMs = o.timeoutMs ?? 10_000;
  const authority = `${url.hostname}:${port}`;
  const target = o.proxy ?? o.connectTo ?? { host: url.hostname, port };
  let socket: net.Socket = net.connect(target.port, target.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  // Frames are small writes: without this, one may wait for the peer's delayed ACK (the benches time round trips).
  socket.setNoDelay(true);
  if (o.proxy) {
    const auth = o.proxy.auth ? `Proxy-Authorization: Basic ${Buffer.from(o.proxy.auth).toString('base64')}\r\n` : '';
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
    const head = await readHead(socket, timeoutMs);
    if (head.status !== 200) throw new WebSocketRefused(head.status, head.headers, await refusedBody(socket, head));
  }
  if (secure) {
    const plain = socket;
    socket = tls.connect({ socket: plain, servername: url.hostname, ca: o.ca, ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  }
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string> = {
    Host: url.port ? authority : url.hostname,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...(o.protocols?.length ? { 'Sec-WebSocket-Protocol': o.protocols.join(', ') } : {}),
    ...o.headers,
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\n${lines.join('')}\r\n`);
  const head = await readHead(socket, timeoutMs);
  if (head.status !== 101) throw new WebSocketRefused(head.status, head.headers, await refusedBody(socket, head));
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  if (head.headers['sec-websocket-accept'] !== accept) {
    socket.destroy();
    throw new Error(`bad Sec-WebSocket-Accept: ${head.headers['sec-websocket-accept']} (expected ${accept})`);
  }
  return new WsClient(socket, head.headers, head.rest);
}
