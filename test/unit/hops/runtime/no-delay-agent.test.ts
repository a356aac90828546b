// The TLS sockets a Moat process opens to the next process (and egress to the provider) send at once:
// Node 20's https.Agent leaves Nagle's algorithm on for them, so a request written in parts waited for
// the next hop's delayed ACK. Node keeps the setting under an internal symbol; strace shows the same
// (setsockopt TCP_NODELAY on our sockets, none on https.Agent's).
import { expect } from 'chai';
import https from 'node:https';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NoDelayHttpsAgent } from '../../../../hops/runtime/forwarder';
import { REPO_ROOT } from '../../../helpers/repo-root';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test', 'fixtures', name));

function noDelayOf(socket: net.Socket): unknown {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kSetNoDelay');
  expect(key, 'Node keeps noDelay under kSetNoDelay').to.not.equal(undefined);
  return (socket as unknown as Record<symbol, unknown>)[key!];
}

/** The socket a GET through `agent` ran on, once connected. */
function socketOf(agent: https.Agent, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, servername: 'api.anthropic.com', agent, path: '/' }, (res) => {
      res.resume();
      res.on('end', () => resolve(req.socket as net.Socket));
    });
    req.on('error', reject);
  });
}

describe('NoDelayHttpsAgent', () => {
  let server: https.Server;
  let port = 0;
  before((done) => {
    server = https.createServer({ key: fixture('provider.key'), cert: fixture('provider.crt') }, (_req, res) =>
      res.end('ok'),
    );
    server.listen(0, '127.0.0.1', () => {
      port = (server.address() as AddressInfo).port;
      done();
    });
  });
  after((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });

  it('opens TLS sockets with Nagle off, where https.Agent leaves it on', async () => {
    const ca = fixture('provider-ca.crt');
    const ours = new NoDelayHttpsAgent({ keepAlive: true, ca });
    const plain = new https.Agent({ keepAlive: true, ca });
    try {
      expect(noDelayOf(await socketOf(ours, port))).to.equal(true);
      // Why the class exists; if a Node release fixes its agent, this line says the class can go.
      expect(noDelayOf(await socketOf(plain, port))).to.equal(false);
    } finally {
      ours.destroy();
      plain.destroy();
    }
  });
});
