// While a process of the chain restarts, its port on 127.0.0.1 is free, and another local user may bind it to collect
// what the process before it sends: an isolated hop's entrance line, Proxy-Authorization on CONNECT or absolute-form
// http, a trace claim. Every such connection (hops/runtime/hop-entrance.ts dialHop, behind the forwarder's plain-HTTP
// agent, the tunnel agent and blind tunnels) sends nothing until the kernel says the listener is this user's. Here a
// listener run by another user (nobody) records every byte it receives: nothing may arrive, and each attempt fails
// closed.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { dialHop, entranceLine } from '../../hops/runtime/hop-entrance';
import { EntranceHttpAgent } from '../../hops/runtime/forwarder';
import { openTunnel } from '../../hops/runtime/tunnel-agent';
import { connectThrough } from '../../hops/runtime/blind-tunnel';
import { listenerIsOurs } from '../../hops/runtime/listener-owner';
import tls from 'node:tls';

const NOBODY = 65534;
// Listens on 127.0.0.1:0, prints its port, then the byte count of everything any client sent, on each close.
const RECORDER = `
const net = require('net');
const s = net.createServer((c) => {
  let n = 0;
  c.on('data', (d) => (n += d.length));
  c.on('close', () => console.log('got ' + n));
});
s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));
`;

describe('security: credentials go only to listeners of this user', function () {
  this.timeout(30_000);
  let foreign: ChildProcess | undefined;
  let port = 0;
  const got: number[] = [];

  before(async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: starting a listener as another user needs root (CI runs as root)');
      return this.skip();
    }
    foreign = spawn(process.execPath, ['-e', RECORDER], {
      uid: NOBODY,
      gid: NOBODY,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      foreign!.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (const line of buf.split('\n')) {
          const m = /^port (\d+)$/.exec(line);
          if (m) resolve(Number(m[1]));
          const g = /^got (\d+)$/.exec(line);
          if (g) got.push(Number(g[1]));
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
      foreign!.once('exit', (code) => reject(new Error(`recorder exited (${code})`)));
    });
  });

  after(() => foreign?.kill('SIGKILL'));

  it("the kernel's table tells the other user's listener from ours", async () => {
    expect(listenerIsOurs(port)).to.equal(false);
    const own = net.createServer();
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    expect(listenerIsOurs((own.address() as net.AddressInfo).port)).to.equal(true);
    own.close();
  });

  it('an entrance line is never written to it: the connection fails with MOAT_FOREIGN_LISTENER', async () => {
    const socket = dialHop(port, entranceLine('e'.repeat(64)));
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    expect(err.code).to.equal('MOAT_FOREIGN_LISTENER');
  });

  it(
    'neither absolute-form http with Proxy-Authorization, a ' + "CONNECT with it, nor a blind tunnel's CONNECT",
    async () => {
      const agent = new EntranceHttpAgent(undefined, { keepAlive: false });
      const httpErr = await new Promise<NodeJS.ErrnoException>((resolve) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          path: 'http://api.example.test/',
          headers: { 'proxy-authorization': 'Basic c2VjcmV0' },
          agent,
        });
        req.once('error', resolve);
        req.once('response', () => resolve(Object.assign(new Error('answered'), { code: 'ANSWERED' })));
        req.end();
      });
      expect(httpErr.code).to.equal('MOAT_FOREIGN_LISTENER');
      const tunnelErr = await openTunnel(
        {
          proxyHost: '127.0.0.1',
          proxyPort: port,
          proxyAuthorization: 'Basic c2VjcmV0',
          secureContext: tls.createSecureContext(),
        },
        'api.example.test:443',
      ).then(
        () => 'opened',
        (e: NodeJS.ErrnoException) => e.code,
      );
      expect(tunnelErr).to.equal('MOAT_FOREIGN_LISTENER');
      const blindErr = await connectThrough(
        port,
        'api.example.test:443',
        { 'proxy-authorization': 'Basic c2VjcmV0' },
        3000,
      ).then(
        () => 'opened',
        (e: NodeJS.ErrnoException) => e.code,
      );
      expect(blindErr).to.equal('MOAT_FOREIGN_LISTENER');
    },
  );

  it("the other user's listener received not one byte", async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(got.length, 'connections it saw close').to.be.at.least(4);
    expect(
      got.every((n) => n === 0),
      `bytes received per connection: ${got.join(', ')}`,
    ).to.equal(true);
  });
});
