// The Moat CA: created on first use under MOAT_HOME, every file 0600 (only the user's own processes read
// them; `run --transparent` gives its agent copies), plus the shared leaf key and a bundle of the system
// roots with the Moat CA appended (what SSL_CERT_FILE and friends point at). The host trust store is never touched.
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { systemRootsPem } from '../../hops/tls/system-roots';
import { MoatError } from '../errors';
import type { StateLayout } from './state';

function rsaKeyPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export interface CaInfo {
  certFile: string;
  bundleFile: string;
  fingerprint: string;
  created: boolean;
}

/** Creates the CA (and leaf key) if missing, refreshes the trust bundle, and describes it. */
export function ensureCa(layout: StateLayout): CaInfo {
  let created = false;
  try {
    mkdirSync(layout.moatHome, { recursive: true, mode: 0o700 });
    if (!existsSync(layout.caCertFile) || !existsSync(layout.caKeyFile)) {
      const { publicKey, privateKey } = rsaKeyPair();
      writeFileSync(layout.caKeyFile, privateKey, { mode: 0o600 });
      // node-forge (45 ms of CPU to load) only when a CA is made, not at every command.
      const { buildCaCertificate } = require('../../hops/tls/x509') as typeof import('../../hops/tls/x509');
      writeFileSync(layout.caCertFile, buildCaCertificate(publicKey, privateKey, 'Moat Chain CA'), { mode: 0o600 });
      created = true;
    }
    if (!existsSync(layout.leafKeyFile)) {
      writeFileSync(layout.leafKeyFile, rsaKeyPair().privateKey, { mode: 0o600 });
    }
    const caPem = readFileSync(layout.caCertFile, 'utf8');
    writeFileSync(layout.caBundleFile, systemRootsPem() + '\n' + caPem, { mode: 0o600 });
    // An install from before 0600: writeFileSync keeps an existing file's mode.
    for (const file of [layout.caCertFile, layout.caBundleFile]) chmodSync(file, 0o600);
    return {
      certFile: layout.caCertFile,
      bundleFile: layout.caBundleFile,
      fingerprint: new X509Certificate(caPem).fingerprint256,
      created,
    };
  } catch (err) {
    throw new MoatError('MOAT_ERR_CA', `Moat CA in ${layout.moatHome}: ${(err as Error).message}`);
  }
}
