// The Moat CA's certificate, built with node-forge and signed with Node's native crypto (forge's pure-JS RSA signature
// costs ~20 ms). Leaves are written without forge (leaf-certificate.ts).
// `any`: node-forge's certificate objects are typed loosely.
/* eslint-disable @typescript-eslint/no-explicit-any */
import forge from 'node-forge';
import { randomBytes, sign, createPrivateKey, type KeyObject } from 'node:crypto';

const SHA256_WITH_RSA = forge.pki.oids.sha256WithRSAEncryption;

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f; // positive
  return bytes.toString('hex');
}

function signWith(cert: forge.pki.Certificate, key: KeyObject): void {
  cert.signatureOid = SHA256_WITH_RSA;
  (cert as any).siginfo.algorithmOid = SHA256_WITH_RSA;
  const tbs = forge.asn1.toDer((forge.pki as any).getTBSCertificate(cert)).getBytes();
  cert.signature = sign('sha256', Buffer.from(tbs, 'binary'), key).toString('binary');
}

function subjectKeyId(publicKey: forge.pki.PublicKey): string {
  // forge always writes SKI as SHA-1 over RSAPublicKey; the AKI we write must be the same bytes.
  return forge.pki.getPublicKeyFingerprint(publicKey, { type: 'RSAPublicKey' }).getBytes();
}

export function buildCaCertificate(publicKeyPem: string, privateKeyPem: string, commonName: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  const name = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Moat' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  const keyId = subjectKeyId(cert.publicKey);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: keyId },
  ]);
  signWith(cert, createPrivateKey(privateKeyPem));
  return forge.pki.certificateToPem(cert);
}
