// The outside end of a network namespace: connections accepted inside it (on ports 443 and 80 of any
// address) go into the chain, as a client with proxy settings would send them: `CONNECT host:port` with
// the chain token, then the client's own bytes, untouched. The host is the SNI name of a TLS ClientHello
// (sni.ts) or the Host of a plain HTTP request (http-host.ts), so the Moat process there terminates TLS
// with a leaf for that name and the request takes a tunnel's path. The target is ingress for
// `run --transparent`, and the next link for a hop with `isolation: netns`.
import net from 'node:net';
import { clientHelloServerName } from './sni';
import { requestHost } from './http-host';
import { PLAIN_HTTP_HEADER } from '../../hops/logic/intercept';
import { parseConnectHead } from '../../hops/logic/connect-reply';

/** The Moat process the connections go into (on 127.0.0.1), named in errors. */
export interface RelayTarget {
  port: number;
  hop: number;
  name: string;
}

export interface RelayOptions {
  target: RelayTarget;
  /** The chain token, sent to the target as Proxy-Authorization (never to the client). */
  token: string;
  /** One line per connection that could not be relayed. */
  log: (line: string) => void;
  /** How long a connection may take to send its ClientHello or request head. */
  sniffTimeoutMs?: number;
}

type Target =
  { kind: 'more' } | { kind: 'host'; host: string; tls: boolean } | { kind: 'none'; tls: boolean; reason: string };

/** What the first bytes of a connection say about where it goes: a TLS handshake (first byte 0x16) or HTTP. */
export function targetOf(head: Buffer): Target {
  const tls = head[0] === 0x16;
  const found = tls ? clientHelloServerName(head) : requestHost(head);
  if (found.kind === 'more') return found;
  if (found.kind === 'none') return { kind: 'none', tls, reason: found.reason };
  return { kind: 'host', tls, host: found.kind === 'name' ? found.name : found.host };
}

export class TransparentRelay {
  private readonly sockets = new Set<net.Socket>();
  private readonly authorization: string;

  constructor(private readonly o: RelayOptions) {
    this.authorization = `Basic ${Buffer.from(`moat:${o.token}`).toString('base64')}`;
  }

  /** Serves the connections `server` accepts; `port` is the port they were made to (443 or 80). */
  serve(server: net.Server, port: number): void {
    server.on('connection', (socket: net.Socket) => this.accept(socket, port));
    server.on('error', (err) => this.o.log(`listener for port ${port}: ${err.message}`));
  }

  /** Cuts every relayed connection. */
  close(): void {
    for (const s of this.sockets) s.destroy();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(agent: net.Socket, port: number): void {
    this.track(agent);
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => agent.destroy(), this.o.sniffTimeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const target = targetOf(head);
      if (target.kind === 'more') return;
      agent.off('data', onData);
      agent.pause();
      clearTimeout(timer);
      if (target.kind === 'none') return this.refuse(agent, target.tls, port, target.reason);
      this.tunnel(agent, target.host, port, target.tls, head);
    };
    agent.on('data', onData);
    agent.once('close', () => clearTimeout(timer));
  }

  private refuse(agent: net.Socket, tls: boolean, port: number, reason: string): void {
    this.o.log(`refused a ${tls ? 'TLS' : 'plain'} connection to port ${port}: ${reason}`);
    if (tls) return void agent.destroy();
    answer(agent, 400, { error: 'bad_request', message: `moat cannot tell where this request goes: ${reason}` });
  }

  private tunnel(agent: net.Socket, host: string, port: number, tls: boolean, head: Buffer): void {
    const target = this.o.target;
    const upstream = net.connect(target.port, '127.0.0.1');
    this.track(upstream);
    upstream.setNoDelay(true);
    agent.setNoDelay(true);
    let established = false;
    upstream.once('error', (err) => {
      if (established) return;
      this.o.log(
        `${target.name} (127.0.0.1:${target.port}) did not take the connection to ${host}:${port}: ${err.message}`,
      );
      if (tls) agent.destroy();
      else
        answer(agent, 502, {
          error: 'hop_unavailable',
          hop: target.hop,
          hop_name: target.name,
          message: 'the chain did not accept the connection; is it up?',
        });
    });
    // Closed before it answered (no error): nothing to relay.
    upstream.once('close', () => {
      if (!established && !agent.writableEnded) agent.destroy();
    });
    // Plain HTTP is always seen: ingress must not relay it blind, whatever tls.intercept says about the host.
    const plain = tls ? '' : `${PLAIN_HTTP_HEADER}: 1\r\n`;
    upstream.write(
      `CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\nProxy-Authorization: ` +
        `${this.authorization}\r\n${plain}\r\n`,
    );
    let reply: Buffer = Buffer.alloc(0);
    const onReply = (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      const parsed = parseConnectHead(reply);
      if (parsed === 'incomplete') return;
      if (parsed === 'too_large') return void upstream.destroy();
      upstream.off('data', onReply);
      if (parsed.status !== 200) {
        this.o.log(`${target.name} refused CONNECT ${host}:${port}: ${parsed.statusLine}`);
        upstream.destroy();
        if (tls) return void agent.destroy();
        return answer(agent, 502, {
          error: 'hop_unavailable',
          hop: target.hop,
          hop_name: target.name,
          message: `${target.name} refused the tunnel to ${host}:${port}`,
        });
      }
      established = true;
      const rest = reply.subarray(parsed.bodyStart);
      if (rest.length) agent.write(rest);
      upstream.write(head);
      agent.pipe(upstream);
      upstream.pipe(agent);
      agent.once('close', () => upstream.destroy());
      upstream.once('close', () => agent.destroy());
      agent.resume();
    };
    upstream.on('data', onReply);
  }
}

function answer(socket: net.Socket, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body) + '\n';
  const reason = status === 400 ? 'Bad Request' : 'Bad Gateway';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ` +
      `${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}
