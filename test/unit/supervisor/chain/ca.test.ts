import { expect } from 'chai';
import { statSync, readFileSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPublicKey, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import tls from 'node:tls';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ensureCa } from '../../../../supervisor/chain/ca';
import { stateLayout } from '../../../../supervisor/chain/state';
import { LeafCache } from '../../../../hops/tls/leaf-cache';
import { children, readValue } from '../../../../hops/tls/der';
import { tmpDir } from '../../../helpers/tmp';

// Like the link runtime: a TLSSocket over an accepted socket, with a default context for no SNI.
function tlsServer(options: tls.TLSSocketOptions): net.Server {
  return net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, ...options });
    s.on('secure', () => s.end());
    s.on('error', () => s.destroy());
  });
}

describe('Moat CA', () => {
  const dir = tmpDir('moat-ca-');
  const layout = stateLayout('default', join(dir.path, 'home'));
  after(() => dir.remove());

  it('is created on first use with every file 0600, and reused after', () => {
    const first = ensureCa(layout);
    expect(first.created).to.equal(true);
    expect(statSync(layout.caCertFile).mode & 0o777).to.equal(0o600);
    expect(statSync(layout.caBundleFile).mode & 0o777).to.equal(0o600);
    expect(statSync(layout.caKeyFile).mode & 0o777).to.equal(0o600);
    expect(statSync(layout.leafKeyFile).mode & 0o777).to.equal(0o600);
    const second = ensureCa(layout);
    expect(second.created).to.equal(false);
    expect(second.fingerprint).to.equal(first.fingerprint);
    expect(first.fingerprint).to.equal(new X509Certificate(readFileSync(layout.caCertFile)).fingerprint256);
  });

  it('writes a trust bundle of the system roots plus the Moat CA', () => {
    const bundle = readFileSync(layout.caBundleFile, 'utf8');
    expect(bundle.endsWith(readFileSync(layout.caCertFile, 'utf8'))).to.equal(true);
    expect(bundle.match(/BEGIN CERTIFICATE/g)!.length).to.be.greaterThan(10);
  });

  it('mints leaves with SAN, AKI = CA SKI, that pass openssl verify -x509_strict', () => {
    const leaves = new LeafCache(layout);
    for (const host of ['api.anthropic.com', '127.0.0.1']) {
      const pem = leaves.certificateFor(host);
      const cert = new X509Certificate(pem);
      const ca = new X509Certificate(readFileSync(layout.caCertFile));
      expect(cert.checkIssued(ca)).to.equal(true);
      expect(cert.verify(ca.publicKey)).to.equal(true);
      expect(cert.subjectAltName).to.contain(host === '127.0.0.1' ? 'IP Address:127.0.0.1' : 'DNS:api.anthropic.com');
      const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem }).toString();
      const caText = execFileSync('openssl', ['x509', '-noout', '-text', '-in', layout.caCertFile]).toString();
      const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(caText)![1];
      expect(/Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(text)![1]).to.equal(ski);
      expect(text).to.contain('Subject Key Identifier');
      const leafFile = join(dir.path, 'leaf.pem');
      writeFileSync(leafFile, pem);
      expect(
        execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', layout.caCertFile, leafFile]).toString(),
      ).to.contain('OK');
    }
  });

  it('writes every field a strict verifier reads: extensions, validity, a positive serial, IPv6 and long names', () => {
    const leaves = new LeafCache(layout);
    const ca = new X509Certificate(readFileSync(layout.caCertFile));
    const long = `${'a'.repeat(60)}.example.com`;
    for (const [host, san] of [
      ['::1', 'IP Address:0:0:0:0:0:0:0:1'],
      ['::ffff:192.0.2.128', 'IP Address:0:0:0:0:0:FFFF:C000:280'],
      [long, `DNS:${long}`],
    ]) {
      const pem = leaves.certificateFor(host);
      const cert = new X509Certificate(pem);
      expect(cert.verify(ca.publicKey), host).to.equal(true);
      expect(cert.subjectAltName, host).to.equal(san);
      expect(cert.subject, host).to.equal(`CN=${host.slice(0, 64)}`);
      expect(cert.issuer).to.equal(ca.subject);
      expect(cert.publicKey.export({ type: 'spki', format: 'der' })).to.deep.equal(
        createPublicKey(readFileSync(layout.leafKeyFile)).export({ type: 'spki', format: 'der' }),
      );
      const from = Date.parse(cert.validFrom);
      expect(Date.now() - from).to.be.within(3599_000, 3700_000);
      expect(Date.parse(cert.validTo) - from).to.equal((365 * 24 + 1) * 3600_000);
      const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem }).toString();
      expect(text).to.match(/Basic Constraints:\s*\n\s*CA:FALSE/);
      expect(text).to.match(/Key Usage: critical\s*\n\s*Digital Signature, Key Encipherment/);
      expect(text).to.match(/Extended Key Usage:\s*\n\s*TLS Web Server Authentication/);
      expect(text).to.match(/Signature Algorithm: sha256WithRSAEncryption/);
      expect(/Serial Number:\s*\n?\s*([0-9a-f:]+)/.exec(text)![1].replace(/:/g, '').length).to.be.within(30, 34);
      // The serial as DER has it: positive (first bit clear) and minimal (no 00 before a byte that needs none).
      const tbs = children(cert.raw, readValue(cert.raw, 0))[0];
      const serial = children(cert.raw, tbs)[1];
      const digits = cert.raw.subarray(serial.contents, serial.end);
      expect(digits[0] & 0x80, host).to.equal(0);
      expect(digits[0] === 0 && (digits[1] & 0x80) === 0, host).to.equal(false);
      // A second parser (node-forge's) reads the same extensions, in the same order.
      const parsed = forge.pki.certificateFromPem(pem);
      expect(parsed.extensions.map((e: { name: string }) => e.name)).to.deep.equal([
        'basicConstraints',
        'keyUsage',
        'extKeyUsage',
        'subjectAltName',
        'subjectKeyIdentifier',
        'authorityKeyIdentifier',
      ]);
    }
    expect(() => leaves.certificateFor('bücher.example')).to.throw('cannot name');
  });

  it('serves a leaf for the SNI name, and for the fallback host when the client sends no SNI', async () => {
    const leaves = new LeafCache(layout);
    const server = tlsServer({
      secureContext: leaves.contextFor('fallback.example.com'),
      SNICallback: (name, cb) => cb(null, leaves.contextFor(name)),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const ca = readFileSync(layout.caCertFile, 'utf8');
    const peerName = (servername?: string) =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ port, host: '127.0.0.1', servername, ca, checkServerIdentity: () => undefined }, () => {
          resolve(s.getPeerCertificate().subjectaltname ?? '');
          s.destroy();
        });
        s.on('error', reject);
      });
    try {
      expect(await peerName('api.openai.com')).to.equal('DNS:api.openai.com');
      expect(await peerName(undefined)).to.equal('DNS:fallback.example.com');
    } finally {
      server.close();
    }
  });

  it('passes a Python TLS handshake with VERIFY_X509_STRICT (the default of Python 3.13)', async () => {
    const leaves = new LeafCache(layout);
    const server = tlsServer({ secureContext: leaves.contextFor('api.anthropic.com') });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const script = [
      'import socket, ssl, sys',
      'ctx = ssl.create_default_context(cafile=sys.argv[1])',
      'ctx.verify_flags |= ssl.VERIFY_X509_STRICT',
      'with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:',
      '    with ctx.wrap_socket(raw, server_hostname="api.anthropic.com") as s:',
      '        print("verified", s.getpeercert()["subjectAltName"])',
    ].join('\n');
    try {
      const { stdout } = await promisify(execFile)('python3', ['-c', script, layout.caCertFile, String(port)]);
      expect(stdout.trim()).to.equal("verified (('DNS', 'api.anthropic.com'),)");
    } finally {
      server.close();
    }
  });

  it('mints leaves ahead, one per turn of the event loop, and leaves other hosts to their first use', async () => {
    const leaves = new LeafCache(layout);
    leaves.mintAhead(['ahead-one.example', 'Ahead-Two.example']);
    expect(leaves.holds('ahead-one.example'), 'nothing minted before the loop turns').to.equal(false);
    for (let i = 0; i < 20 && !leaves.holds('ahead-two.example'); i++) await new Promise((r) => setImmediate(r));
    expect(leaves.holds('ahead-one.example')).to.equal(true);
    expect(leaves.holds('ahead-two.example')).to.equal(true);
    expect(leaves.holds('other.example')).to.equal(false);
  });
});
