// Mints and caches Moat-CA leaves per host. One leaf key pair (leaf.key) is shared by
// every leaf, so minting a leaf for a new host is a single signature.
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import forge from 'node-forge';
import { buildLeafCertificate, type Issuer } from './x509';

export interface CaFiles {
  caCertFile: string;
  caKeyFile: string;
  leafKeyFile: string;
}

export class LeafCache {
  private readonly contexts = new Map<string, SecureContext>();
  private readonly issuer: Issuer;
  private readonly leafKeyPem: string;
  private readonly leafPublicKey: forge.pki.PublicKey;
  readonly caCertPem: string;

  constructor(files: CaFiles) {
    this.caCertPem = readFileSync(files.caCertFile, 'utf8');
    const caKey: KeyObject = createPrivateKey(readFileSync(files.caKeyFile));
    this.issuer = { cert: forge.pki.certificateFromPem(this.caCertPem), key: caKey };
    this.leafKeyPem = readFileSync(files.leafKeyFile, 'utf8');
    const publicPem = createPublicKey(this.leafKeyPem).export({ type: 'spki', format: 'pem' }).toString();
    this.leafPublicKey = forge.pki.publicKeyFromPem(publicPem);
  }

  /** The certificate PEM for host (minting it on first use). */
  certificateFor(host: string): string {
    return buildLeafCertificate(host.toLowerCase(), this.leafPublicKey, this.issuer);
  }

  /** A TLS context presenting a leaf for host, chained to the Moat CA. */
  contextFor(host: string): SecureContext {
    const key = host.toLowerCase();
    let context = this.contexts.get(key);
    if (!context) {
      const cert = this.certificateFor(key) + this.caCertPem;
      context = createSecureContext({ key: this.leafKeyPem, cert });
      this.contexts.set(key, context);
    }
    return context;
  }
}
