// A link reads the CA of the intercepting hop behind it (mitmproxy's) on its first request, not at start: the
// hop writes that file when it first starts, which may be after the link. Missing then: 502 naming the hop.
import { expect } from 'chai';
import http from 'node:http';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../hops/runtime/forwarder';
import { freePort } from '../../supervisor/chain/ports';
import { PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { tmpDir } from '../helpers/tmp';

describe("forwarder: the next hop's own CA, read when first needed", () => {
  const dir = tmpDir();
  let server: http.Server;
  let port = 0;

  before(async () => {
    const nothingThere = await freePort();
    const forwarder = new Forwarder({
      kind: 'next',
      next: { port: nothingThere, hop: 2, name: 'mitmproxy' },
      proxyAuthorization: 'Basic x',
      trustedCa: [],
      nextCaFile: join(dir.path, 'mitmproxy-ca-cert.pem'),
    });
    server = http.createServer((req, res) =>
      forwarder.forward(
        req,
        res,
        { scheme: 'https', host: 'api.anthropic.com', port: 443 },
        { onDone: () => undefined },
      ),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.close();
    dir.remove();
  });

  const ask = (): Promise<{ status: number; body: any }> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/v1/models' }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        })
        .on('error', reject);
    });

  it('fails the request closed, naming the hop and the file, while the file is missing', async () => {
    const res = await ask();
    expect(res.status).to.equal(502);
    expect(res.body).to.deep.include({ error: 'hop_failed', hop: 2, hop_name: 'mitmproxy' });
    expect(res.body.message)
      .to.contain('cannot read the CA hop 2 (mitmproxy) signs with')
      .and.contain('mitmproxy-ca-cert.pem: ENOENT');
  });

  it(
    'refuses a file the hop has only begun to write (empty, ' + 'or a cut PEM) rather than trust nothing for good',
    async () => {
      for (const text of ['', readFileSync(PROVIDER_CA_FILE, 'utf8').slice(0, 200)]) {
        writeFileSync(join(dir.path, 'mitmproxy-ca-cert.pem'), text);
        const res = await ask();
        expect(res.status).to.equal(502);
        expect(res.body).to.deep.include({ error: 'hop_failed', hop: 2 });
        expect(res.body.message).to.contain('cannot read the CA hop 2 (mitmproxy) signs with');
      }
    },
  );

  it('reads it on a later request once the hop has written it', async () => {
    copyFileSync(PROVIDER_CA_FILE, join(dir.path, 'mitmproxy-ca-cert.pem'));
    const res = await ask();
    // Past the CA now: the next failure is the hop itself, which nothing here listens for.
    expect(res.status).to.equal(502);
    expect(res.body).to.deep.include({ error: 'hop_unavailable', hop: 2, hop_name: 'mitmproxy' });
  });
});
