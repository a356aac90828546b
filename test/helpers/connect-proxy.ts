// A minimal CONNECT proxy for tests of WebSocket clients (ws-client.ts) without a chain: Basic Proxy-Authorization
// required (407 without, as the chain's ingress), CONNECT only to the host:port it maps (to a local port; 403 for any
// other), bytes passed both ways untouched. It records each CONNECT it received. Listens on 127.0.0.1 port 0.
import net from 'node:net';

export interface SeenConnect {
  authority: string;
  proxyAuthorization?: string;
  status: number;
}

export class ConnectProxy {
  readonly seen: SeenConnect[] = [];
  port = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  /** routes: "host:port" → the local port it reaches; auth: the user:password Proxy-Authorization must carry. */
  constructor(
    private readonly routes: Record<string, number>,
    private readonly auth: string,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
  }

  private accept(client: net.Socket): void {
    this.track(client);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      client.pause();
      const [requestLine, ...lines] = head.subarray(0, end).toString('latin1').split('\r\n');
      const rest = head.subarray(end + 4);
      const auth = lines.find((l) => /^proxy-authorization:/i.test(l))?.replace(/^[^:]*:\s*/, '');
      const [method, authority] = requestLine.split(' ');
      const answer = (status: number, text: string) => {
        this.seen.push({ authority, proxyAuthorization: auth, status });
        client.end(`HTTP/1.1 ${status} ${text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      };
      if (method !== 'CONNECT') return answer(405, 'Method Not Allowed');
      if (auth !== `Basic ${Buffer.from(this.auth).toString('base64')}`)
        return answer(407, 'Proxy Authentication Required');
      const port = this.routes[authority];
      if (port === undefined) return answer(403, 'Forbidden');
      const upstream = net.connect(port, '127.0.0.1', () => {
        this.seen.push({ authority, proxyAuthorization: auth, status: 200 });
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      this.track(upstream);
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  }
}
