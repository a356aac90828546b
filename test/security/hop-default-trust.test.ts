// A Moat process on the data path runs with HOP_DEFAULT_TRUST (supervisor/chain/lifecycle.ts): its TLS clients that
// name no CA trust the system's certificate directory and nothing else. A server with a certificate of any other CA
// (one a local process could make) is refused by such a client; a client that names its CA, as every one between Moat
// processes and toward providers does, still verifies it. Each run in a Node process started as pm2 starts a hop.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HOP_DEFAULT_TRUST } from '../../supervisor/chain/lifecycle';
import { REPO_ROOT } from '../helpers/repo-root';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');

/** Connects to 127.0.0.1:PORT as api.anthropic.com, naming the CA in argv[2] when there is one; prints the outcome. */
const CLIENT = `
const tls = require('node:tls');
const ca = process.argv[2] ? require('node:fs').readFileSync(process.argv[2], 'utf8') : undefined;
const s = tls.connect({ host: '127.0.0.1', port: Number(process.argv[1]), servername: 'api.anthropic.com', ...(ca ? { ca } : {}) });
s.on('secureConnect', () => { console.log('verified'); s.destroy(); });
s.on('error', (e) => console.log('refused ' + (e.code || e.message)));
`;

describe('security: what a Moat process trusts when its TLS client names no CA', () => {
  let server: tls.Server;
  let port: number;

  before(async () => {
    server = tls.createServer(
      {
        key: readFileSync(join(FIXTURES, 'provider.key')),
        cert: readFileSync(join(FIXTURES, 'provider.crt')),
      },
      (socket) => socket.end(),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(() => server.close());

  const asAHop = async (...args: string[]): Promise<string> => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...HOP_DEFAULT_TRUST.nodeArgs, '-e', CLIENT, String(port), ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...HOP_DEFAULT_TRUST.env } },
    );
    return stdout.trim();
  };

  it("refuses a server whose certificate comes from a CA outside the system's", async () => {
    expect(await asAHop()).to.match(/^refused /);
  });

  it('verifies the same server when the client names its CA', async () => {
    expect(await asAHop(join(FIXTURES, 'provider-ca.crt'))).to.equal('verified');
  });
});
