// The floor for one hop: the least a Node process can do in a hop's place. It takes CONNECT,
// terminates TLS (with the fake provider's own certificate, which names api.anthropic.com), and
// sends each request to the provider over one keep-alive HTTPS pool. No token, no events, no logic.
// Run as its own process: `node bare-forwarder.js NEXT_PORT [--link] [--lean]`, prints {"port": N}. With --link it
// takes HTTPS directly instead of CONNECT (as a Moat process after ingress takes link TLS), so four of them in series,
// each sending to the next, are the least four processes with TLS at every boundary can cost: the design's floor.
// With --lean-server (link mode only) it also serves without Node's http.Server (test/bench/lean-server.ts).
// With --lean it sends with Moat's link client (hops/runtime/link-client.ts) instead of Node's https.request.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NoDelayHttpsAgent } from '../../hops/runtime/forwarder';
import { LinkPool } from '../../hops/runtime/link-client';
import { REPO_ROOT } from '../helpers/repo-root';
import { serveLean } from './lean-server';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', name));
const nextPort = Number(process.argv[2]);
const link = process.argv.includes('--link');
const leanServer = process.argv.includes('--lean-server');
const lean = leanServer || process.argv.includes('--lean');
// Nagle off towards the provider too, as in the chain (hops/runtime/forwarder.ts).
const agent = new NoDelayHttpsAgent({ keepAlive: true, maxSockets: Infinity, ca: fixture('provider-ca.crt') });

const pool = lean
  ? new LinkPool({
      host: '127.0.0.1',
      port: nextPort,
      name: 'api.anthropic.com',
      secureContext: tls.createSecureContext({ ca: fixture('provider-ca.crt') }),
    })
  : undefined;

function leanly(req: http.IncomingMessage, res: http.ServerResponse): void {
  const out = pool!.request(req.method ?? 'GET', req.url ?? '/', req.headers);
  out.on('response', (up: http.IncomingMessage) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  out.on('error', () => res.destroy());
  req.pipe(out);
}

const inner = http.createServer((req, res) => {
  if (pool) return leanly(req, res);
  const out = https.request(
    {
      host: '127.0.0.1',
      port: nextPort,
      servername: 'api.anthropic.com',
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on('error', () => res.destroy());
  req.pipe(out);
});
const context = tls.createSecureContext({ key: fixture('provider.key'), cert: fixture('provider.crt') });
const outer = http.createServer();
outer.on('connect', (_req, socket: net.Socket) => {
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  inner.emit('connection', new tls.TLSSocket(socket, { isServer: true, secureContext: context }));
});
// A link: TLS from the first byte, each socket handed to the HTTP server as the CONNECT path hands its tunnels.
// With --lean-server (test/bench/lean-server.ts) no http.Server reads it.
const linked = net.createServer({ noDelay: true }, (socket) => {
  const secured = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
  if (leanServer) serveLean(secured, pool!);
  else inner.emit('connection', secured);
});
const listener = link ? linked : outer;
listener.listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ port: (listener.address() as net.AddressInfo).port })),
);
