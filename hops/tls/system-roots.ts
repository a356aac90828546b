// The machine's trusted roots: the distribution's bundle when there is one (so local
// additions count), Node's built-in Mozilla list otherwise.
import { existsSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

export function systemRootsPem(): string {
  const file = SYSTEM_BUNDLES.find((f) => existsSync(f));
  return file ? readFileSync(file, 'utf8').trimEnd() : rootCertificates.join('\n');
}
