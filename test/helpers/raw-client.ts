// A client that sends exactly the bytes it is given (no HTTP library would send malformed input),
// over plain TCP or TLS inside a CONNECT tunnel, and reports what came back: the status of the first
// response line, if any, and whether the server closed the connection.
import net from 'node:net';
import tls from 'node:tls';

export interface RawReply {
  /** Status of the first response line; undefined when nothing HTTP-like came back. */
  status?: number;
  /** The server closed (or reset) the connection within the wait. */
  closed: boolean;
  head: string;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})/;

/** Collects what `socket` receives until it closes or waitMs passes. */
export function collect(socket: net.Socket | tls.TLSSocket, waitMs: number): Promise<RawReply> {
  return new Promise((resolve) => {
    let head = '';
    let settled = false;
    const done = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const m = STATUS_LINE.exec(head);
      socket.destroy();
      resolve({ status: m ? Number(m[1]) : undefined, closed, head: head.slice(0, 300) });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      // A complete response head is an answer: a connection kept alive after it need not be waited for.
      if (STATUS_LINE.test(head) && head.includes('\r\n\r\n')) done(false);
    });
    socket.on('error', () => done(true));
    socket.on('close', () => done(true));
    socket.on('end', () => done(true));
  });
}

export function connectPlain(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `payload` to a new connection to port and collects the reply. A write the server cut short is no error. */
export async function rawExchange(port: number, payload: string | Buffer, waitMs = 3000): Promise<RawReply> {
  const s = await connectPlain(port);
  const reply = collect(s, waitMs);
  s.write(payload, () => undefined);
  return reply;
}

/** A CONNECT tunnel through the proxy at port; resolves with the raw socket once it answered 200. */
export async function openTunnel(
  port: number,
  authorization: string,
  authority = 'api.anthropic.com:443',
): Promise<net.Socket> {
  const s = await connectPlain(port);
  s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${authorization}\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.removeListener('data', onData);
      if (/^HTTP\/1\.[01] 200/.test(head)) resolve(s);
      else reject(new Error(`CONNECT answered ${head.split('\r\n')[0]}`));
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

/** TLS inside a CONNECT tunnel, trusting `ca` (the Moat CA). */
export async function openTlsTunnel(
  port: number,
  authorization: string,
  ca: string,
  host = 'api.anthropic.com',
): Promise<tls.TLSSocket> {
  const raw = await openTunnel(port, authorization, `${host}:443`);
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket: raw, servername: host, ca }, () => resolve(secure));
    secure.once('error', reject);
  });
}
