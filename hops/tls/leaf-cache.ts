// Mints and caches Moat-CA leaves per host. One leaf key pair (leaf.key) is shared by
// every leaf, so minting a leaf for a new host is a single signature.
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type forge from 'node-forge';
import type { Issuer } from './x509';

export interface CaFiles {
  caCertFile: string;
  caKeyFile: string;
  leafKeyFile: string;
}

/** What minting needs, in node-forge's terms. */
interface Minter {
  issuer: Issuer;
  leafPublicKey: forge.pki.PublicKey;
  build: typeof import('./x509').buildLeafCertificate;
}

export class LeafCache {
  private readonly contexts = new Map<string, SecureContext>();
  private readonly caKey: KeyObject;
  private readonly leafKeyPem: string;
  private minter?: Minter;
  readonly caCertPem: string;

  /**
   * The files are read (and a damaged one refused) now; node-forge loads on the first leaf (~40 ms of every process's
   * start).
   */
  constructor(files: CaFiles) {
    this.caCertPem = readFileSync(files.caCertFile, 'utf8');
    new X509Certificate(this.caCertPem); // a damaged CA stops the process at start, not at its first leaf
    this.caKey = createPrivateKey(readFileSync(files.caKeyFile));
    this.leafKeyPem = readFileSync(files.leafKeyFile, 'utf8');
    createPrivateKey(this.leafKeyPem); // likewise a damaged leaf key, which every handshake would fail on
  }

  /** The certificate PEM for host (minting it on first use). */
  certificateFor(host: string): string {
    const m = (this.minter ??= this.makeMinter());
    return m.build(host.toLowerCase(), m.leafPublicKey, m.issuer);
  }

  private makeMinter(): Minter {
    const forgeLib = require('node-forge') as typeof forge;
    const publicPem = createPublicKey(this.leafKeyPem).export({ type: 'spki', format: 'pem' }).toString();
    return {
      issuer: { cert: forgeLib.pki.certificateFromPem(this.caCertPem), key: this.caKey },
      leafPublicKey: forgeLib.pki.publicKeyFromPem(publicPem),
      build: (require('./x509') as typeof import('./x509')).buildLeafCertificate,
    };
  }

  /**
   * Mints the leaves of hosts ahead of their first use, one per turn of the event loop so that a connection arriving
   * meanwhile waits for one signature at most. A host that cannot be minted is left to its first use, which reports it.
   * Returns what stops it (the process closing).
   */
  mintAhead(hosts: readonly string[]): () => void {
    const left = [...hosts];
    const next = (): void => {
      const host = left.shift();
      if (host === undefined) return;
      try {
        this.contextFor(host);
      } catch {
        // reported when a connection asks for it
      }
      setImmediate(next);
    };
    setImmediate(next);
    return () => void left.splice(0);
  }

  /** Whether host's leaf is minted already. */
  holds(host: string): boolean {
    return this.contexts.has(host.toLowerCase());
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
