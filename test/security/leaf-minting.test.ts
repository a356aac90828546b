// An agent inside a CONNECT tunnel chooses the TLS handshake's SNI name, and may CONNECT to as many names as it likes.
// Ingress answers every tunnel with the CONNECT host's leaf (where the request goes), never one for the name the
// ClientHello asks, and holds at most MAX_LEAVES hosts' contexts (about 36 KB each): an agent cannot have it mint
// leaves for names it never connects to, nor grow its memory without end.
import { expect } from 'chai';
import http from 'node:http';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { startTestIngressBefore, type TestIngress } from '../helpers/test-ingress';
import { openTunnel } from '../helpers/raw-client';
import { MAX_LEAVES } from '../../hops/tls/leaf-cache';
import { tmpDir } from '../helpers/tmp';

/** TLS through a tunnel to `connectHost`, sending `servername` as SNI; the leaf the listener presented. */
async function leafPresented(ingress: TestIngress, connectHost: string, servername: string): Promise<X509Certificate> {
  const raw = await openTunnel(ingress.server.port, ingress.auth, `${connectHost}:443`);
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    // The name is checked by hand below: the point is which leaf came, not whether it matches the SNI name.
    const s = tls.connect({ socket: raw, servername, ca: ingress.ca, checkServerIdentity: () => undefined }, () =>
      resolve(s),
    );
    s.once('error', reject);
  });
  const cert = new X509Certificate(secure.getPeerCertificate(false).raw);
  secure.destroy();
  return cert;
}

describe('leaves an agent can have ingress mint', function () {
  this.timeout(60_000);
  const dir = tmpDir('moat-lm-');
  const next = http.createServer((_req, res) => res.end('ok'));
  let ingress: TestIngress;

  before(async () => {
    ingress = await startTestIngressBefore(next, dir.path);
  });
  after(async () => {
    await ingress.server.close();
    await new Promise<void>((r) => next.close(() => r()));
    dir.remove();
  });

  it('presents the CONNECT host leaf whatever SNI name the agent sends, and mints none for that name', async () => {
    const before = ingress.leaves.size;
    for (let i = 0; i < 10; i++) {
      const cert = await leafPresented(ingress, 'api.example.com', `sni-${i}.elsewhere.example`);
      expect(cert.subjectAltName).to.equal('DNS:api.example.com');
      expect(cert.checkHost(`sni-${i}.elsewhere.example`)).to.equal(undefined);
    }
    expect(ingress.leaves.holds('sni-0.elsewhere.example')).to.equal(false);
    expect(ingress.leaves.size - before, 'one leaf, api.example.com').to.equal(1);
  });

  it(`holds at most ${MAX_LEAVES} hosts however many names the agent CONNECTs to, and still serves each`, async () => {
    const names = Array.from({ length: MAX_LEAVES + 40 }, (_, i) => `h${i}.flood.example`);
    for (let i = 0; i < names.length; i += 8)
      await Promise.all(
        names.slice(i, i + 8).map(async (name) => {
          const cert = await leafPresented(ingress, name, name);
          expect(cert.subjectAltName).to.equal(`DNS:${name}`);
        }),
      );
    expect(ingress.leaves.size).to.be.at.most(MAX_LEAVES);
    expect(ingress.leaves.holds(names[0]), 'the first, least recently used, was dropped').to.equal(false);
    expect(ingress.leaves.holds(names[names.length - 1])).to.equal(true);
    // A dropped host is minted again on its next CONNECT.
    const again = await leafPresented(ingress, names[0], names[0]);
    expect(again.subjectAltName).to.equal(`DNS:${names[0]}`);
  });
});
