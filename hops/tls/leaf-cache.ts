// Mints and caches Moat-CA leaves per host. One leaf key pair (leaf.key) is shared by
// every leaf, so minting a leaf for a new host is a single signature (leaf-certificate.ts).
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { leafCertificate, leafTemplate, type LeafTemplate } from './leaf-certificate';

export interface CaFiles {
  caCertFile: string;
  caKeyFile: string;
  leafKeyFile: string;
}

// How many hosts' TLS contexts a process holds, about 36 KB each. An agent may CONNECT to as many names as it likes
// (or, inside a tunnel, ask for them by SNI, which the link no longer honours): without a bound each new one stayed for
// good. Agents use a handful of hosts; past the bound the least recently used is dropped and minted again if asked.
export const MAX_LEAVES = 256;

export class LeafCache {
  /** In order of last use, the least recent first (a Map keeps insertion order; a use moves a host to the end). */
  private readonly contexts = new Map<string, SecureContext>();
  private readonly leafKeyPem: string;
  private readonly template: LeafTemplate;
  readonly caCertPem: string;

  /** The files are read now: a damaged one stops the process at start, not at its first leaf. */
  constructor(
    files: CaFiles,
    private readonly maxLeaves = MAX_LEAVES,
  ) {
    this.caCertPem = readFileSync(files.caCertFile, 'utf8');
    this.leafKeyPem = readFileSync(files.leafKeyFile, 'utf8');
    createPrivateKey(this.leafKeyPem); // a damaged leaf key, which every handshake would fail on
    this.template = leafTemplate(this.caCertPem, createPrivateKey(readFileSync(files.caKeyFile)), this.leafKeyPem);
  }

  /** A new leaf for host, as PEM (contextFor keeps one per host). */
  certificateFor(host: string): string {
    return leafCertificate(host.toLowerCase(), this.template);
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

  /** How many hosts' contexts are held now (at most maxLeaves). */
  get size(): number {
    return this.contexts.size;
  }

  /** A TLS context presenting a leaf for host, chained to the Moat CA. */
  contextFor(host: string): SecureContext {
    const key = host.toLowerCase();
    let context = this.contexts.get(key);
    if (context) {
      this.contexts.delete(key);
    } else {
      const cert = this.certificateFor(key) + this.caCertPem;
      context = createSecureContext({ key: this.leafKeyPem, cert });
      if (this.contexts.size >= this.maxLeaves) this.contexts.delete(this.contexts.keys().next().value!);
    }
    this.contexts.set(key, context);
    return context;
  }
}
