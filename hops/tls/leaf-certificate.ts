// A Moat-CA leaf for one host, written as DER here (der.ts) and signed with Node's crypto. Leaves differ only in their
// serial, validity, common name and subjectAltName; everything else is encoded once per process (LeafTemplate): the
// CA's subject, copied byte for byte as the issuer, the leaf key every leaf shares, the key identifiers strict
// verifiers match, and the fixed extensions. node-forge built the same certificate in JavaScript that runs once per
// host, so V8 never optimises it: 2.6-11 ms of ingress's CPU per new host, against 1.2-1.6 ms here, most of it the
// signature (docs/benchmarks.md, "Issue 22, session 27").
import { createHash, createPublicKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { certificateTime, children, objectId, octetString, positiveInteger, readValue, sequence, tlv } from './der';

const SHA256_WITH_RSA = sequence(objectId('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
const VERSION_3 = tlv(0xa0, tlv(0x02, Buffer.from([2])));
const SUBJECT_KEY_ID = '2.5.29.14';
const HOUR_MS = 3600_000;

export interface LeafTemplate {
  issuer: Buffer;
  publicKeyInfo: Buffer;
  /** basicConstraints (not a CA), keyUsage (critical), extKeyUsage (serverAuth): before the subjectAltName. */
  leading: Buffer[];
  /** subjectKeyIdentifier and authorityKeyIdentifier: after it. */
  trailing: Buffer[];
  caKey: KeyObject;
}

/** What every leaf of this CA and leaf key shares. The CA's key is RSA, as moat makes it (supervisor/chain/ca.ts). */
export function leafTemplate(caCertPem: string, caKey: KeyObject, leafKeyPem: string): LeafTemplate {
  if (caKey.asymmetricKeyType !== 'rsa') throw new Error(`the Moat CA's key is ${caKey.asymmetricKeyType}, not RSA`);
  const caDer = new X509Certificate(caCertPem).raw;
  const tbs = children(caDer, readValue(caDer, 0))[0];
  const fields = children(caDer, tbs);
  const first = fields[0].tag === 0xa0 ? 1 : 0; // the version is left out of a v1 certificate
  const subject = fields[first + 4];
  const caKeyId = extensionValue(caDer, fields, SUBJECT_KEY_ID) ?? keyIdOf(caDer.subarray(fields[first + 5].start));
  const publicKeyInfo = createPublicKey(leafKeyPem).export({ type: 'spki', format: 'der' });
  const extension = (id: string, value: Buffer, critical = false) =>
    sequence(objectId(id), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), octetString(value));
  return {
    issuer: caDer.subarray(subject.start, subject.end),
    publicKeyInfo,
    leading: [
      extension('2.5.29.19', sequence()),
      // digitalSignature and keyEncipherment: bits 0 and 2, five bits unused.
      extension('2.5.29.15', tlv(0x03, Buffer.from([0x05, 0xa0])), true),
      extension('2.5.29.37', sequence(objectId('1.3.6.1.5.5.7.3.1'))),
    ],
    trailing: [
      extension(SUBJECT_KEY_ID, octetString(keyIdOf(publicKeyInfo))),
      extension('2.5.29.35', sequence(tlv(0x80, caKeyId))),
    ],
    caKey,
  };
}

/** The PEM of a leaf for host (a DNS name or an IP address), valid from an hour ago for a year. */
export function leafCertificate(host: string, t: LeafTemplate, now = Date.now(), serial = randomBytes(16)): string {
  const tbs = sequence(
    VERSION_3,
    positiveInteger(serial),
    SHA256_WITH_RSA,
    t.issuer,
    sequence(certificateTime(new Date(now - HOUR_MS)), certificateTime(new Date(now + 365 * 24 * HOUR_MS))),
    sequence(tlv(0x31, sequence(objectId('2.5.4.3'), tlv(0x0c, Buffer.from(host.slice(0, 64), 'utf8'))))),
    t.publicKeyInfo,
    tlv(
      0xa3,
      sequence(...t.leading, sequence(objectId('2.5.29.17'), octetString(sequence(altName(host)))), ...t.trailing),
    ),
  );
  const der = sequence(tbs, SHA256_WITH_RSA, tlv(0x03, Buffer.from([0]), sign('sha256', tbs, t.caKey)));
  const lines = der.toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** iPAddress [7] for an address, dNSName [2] (IA5String: ASCII only) for a name. */
function altName(host: string): Buffer {
  const family = isIP(host);
  if (family === 4) return tlv(0x87, Buffer.from(host.split('.').map(Number)));
  if (family === 6) return tlv(0x87, ipv6Bytes(host));
  if (!/^[\x21-\x7e]+$/.test(host)) throw new Error(`cannot name ${JSON.stringify(host)} in a certificate`);
  return tlv(0x82, Buffer.from(host, 'ascii'));
}

/** The 16 bytes of an IPv6 address (`::` expanded, a trailing dotted IPv4 part read as two groups). */
export function ipv6Bytes(address: string): Buffer {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = tail === undefined ? groups(head) : [...groups(head), ...Array(missing).fill('0'), ...groups(tail)];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), 2 * i));
  return bytes;
}

/** RFC 5280's first method: SHA-1 of the subjectPublicKey bits of a SubjectPublicKeyInfo (its DER at its start). */
function keyIdOf(publicKeyInfo: Buffer): Buffer {
  const [, bits] = children(publicKeyInfo, readValue(publicKeyInfo, 0));
  return createHash('sha1')
    .update(publicKeyInfo.subarray(bits.contents + 1, bits.end))
    .digest();
}

/** The contents of extension `id`'s value (the OCTET STRING's inner value), if the certificate has it. */
function extensionValue(der: Buffer, fields: ReturnType<typeof children>, id: string): Buffer | undefined {
  const wrapper = fields.find((f) => f.tag === 0xa3);
  if (!wrapper) return undefined;
  const wanted = objectId(id);
  for (const ext of children(der, children(der, wrapper)[0])) {
    const parts = children(der, ext);
    if (!der.subarray(parts[0].start, parts[0].end).equals(wanted)) continue;
    const inner = readValue(der, parts[parts.length - 1].contents);
    return der.subarray(inner.contents, inner.end);
  }
  return undefined;
}
