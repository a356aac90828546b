// A syslog receiver for tests: UDP or TCP (RFC 6587 octet counting) on 127.0.0.1 port 0, keeping every message.
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SyslogListener {
  port: number;
  messages: string[];
  /** Resolves once a message matching `test` has arrived. */
  waitFor(test: (m: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export async function syslogListener(protocol: 'udp' | 'tcp', port = 0): Promise<SyslogListener> {
  const messages: string[] = [];
  const waiters: (() => void)[] = [];
  const add = (m: string) => {
    messages.push(m);
    waiters.splice(0).forEach((w) => w());
  };
  let close: () => Promise<void>;
  let bound: number;
  if (protocol === 'udp') {
    const socket = createSocket('udp4');
    socket.on('message', (b) => add(b.toString('utf8')));
    await new Promise<void>((r) => socket.bind(port, '127.0.0.1', r));
    bound = (socket.address() as AddressInfo).port;
    close = () => new Promise<void>((r) => socket.close(() => r()));
  } else {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const sp = buf.indexOf(0x20);
          if (sp < 0) return;
          const len = Number(buf.subarray(0, sp).toString());
          if (buf.length < sp + 1 + len) return;
          add(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
          buf = buf.subarray(sp + 1 + len);
        }
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    bound = (server.address() as AddressInfo).port;
    close = () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      });
  }
  return {
    port: bound,
    messages,
    async waitFor(test, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(test);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`no matching syslog message in ${timeoutMs} ms: ${messages.length} seen`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    close: () => close(),
  };
}
