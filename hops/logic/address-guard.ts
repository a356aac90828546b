// Which addresses egress may open a connection to (issue 16, point 2). egress.allow is checked on the NAME the agent
// asked for; a name that resolves (DNS, /etc/hosts, a rebinding answer) to 127.0.0.1, to the cloud metadata service
// or into the private network got past it. This module decides on the ADDRESS a socket is about to connect to, after
// resolution, so what is checked is what is reached. Pure: an own parser (IPv4, IPv6 with every embedded-IPv4 form).

/** What an address is, from the point of view of a process that should reach only the internet. */
export type AddressClass =
  'public' | 'loopback' | 'unspecified' | 'link_local' | 'metadata' | 'private' | 'multicast' | 'reserved';

/** In words, for error messages. */
export const ADDRESS_CLASS_WORDS: Record<AddressClass, string> = {
  public: 'a public address',
  loopback: 'a loopback address (this machine)',
  unspecified: 'an unspecified address (this machine)',
  link_local: 'a link-local address',
  metadata: 'a cloud metadata service address',
  private: 'a private network address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
};

type Range = { bytes: number[]; bits: number; cls: AddressClass };

/** IPv4 prefixes as the last 4 bytes of an IPv4-mapped address, so one table serves both families. */
function v4(cidr: string, cls: AddressClass): Range {
  const [a, bits] = cidr.split('/');
  return {
    bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split('.').map(Number)],
    bits: 96 + Number(bits ?? 32),
    cls,
  };
}

function v6(cidr: string, cls: AddressClass): Range {
  const [a, bits] = cidr.split('/');
  return { bytes: parseIPv6(a)!, bits: Number(bits ?? 128), cls };
}

/**
 * First match wins, so the metadata services come before the ranges they lie in (a switch that opens private
 * addresses must not open them). Each line says why it is here.
 */
const RANGES: Range[] = [
  // Cloud metadata services: credentials of the machine's cloud role are one GET away.
  v4('169.254.169.254', 'metadata'), // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack, Hetzner
  v4('169.254.170.2', 'metadata'), // AWS ECS task credentials
  v4('169.254.170.23', 'metadata'), // AWS EKS Pod Identity agent
  v4('169.254.0.23', 'metadata'), // Tencent Cloud
  v4('100.100.100.200', 'metadata'), // Alibaba Cloud (inside 100.64.0.0/10)
  v6('fd00:ec2::254', 'metadata'), // AWS IMDS over IPv6 (inside fc00::/7)
  v6('fd00:ec2::23', 'metadata'), // AWS EKS Pod Identity agent over IPv6
  // This machine.
  v4('0.0.0.0/8', 'unspecified'), // 0.0.0.0 connects to this machine on Linux
  v4('127.0.0.0/8', 'loopback'),
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  // The link: not routed, other machines on the same segment.
  v4('169.254.0.0/16', 'link_local'),
  v6('fe80::/10', 'link_local'),
  // Private networks (RFC 1918, CGNAT RFC 6598, unique local RFC 4193, deprecated site-local, benchmarking RFC 2544,
  // local-use NAT64 RFC 8215).
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('100.64.0.0/10', 'private'),
  v4('198.18.0.0/15', 'private'),
  v6('fc00::/7', 'private'),
  v6('fec0::/10', 'private'),
  v6('64:ff9b:1::/48', 'private'),
  // Not a unicast destination on the internet.
  v4('224.0.0.0/4', 'multicast'),
  v6('ff00::/8', 'multicast'),
  v4('240.0.0.0/4', 'reserved'), // includes 255.255.255.255, the broadcast address
  v4('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  v4('192.0.2.0/24', 'reserved'), // documentation (TEST-NET-1..3)
  v4('198.51.100.0/24', 'reserved'),
  v4('203.0.113.0/24', 'reserved'),
  v6('100::/64', 'reserved'), // discard-only
  v6('2001:db8::/32', 'reserved'), // documentation
  v6('::/96', 'reserved'), // IPv4-compatible (deprecated): no longer routed as IPv4
];

/**
 * The class of an IP address in any spelling Node or a resolver gives (`127.0.0.1`, `::1`, `::ffff:7f00:1`,
 * `[::ffff:127.0.0.1]`, `fe80::1%eth0`). An address that embeds an IPv4 address (IPv4-mapped `::ffff:0:0/96`,
 * IPv4-translated `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is as the IPv4 address it reaches,
 * when that is not public. Something that is no IP address at all is `reserved` (refused): fail closed.
 */
export function classifyAddress(address: string): AddressClass {
  const bytes = parseAddress(address);
  if (!bytes) return 'reserved';
  const inner = embeddedIPv4(bytes);
  if (inner) {
    const cls = classifyBytes(mapped(inner));
    // A NAT64 or 6to4 gateway reaches a public IPv4 address on the internet: public. The mapped forms are the address.
    if (cls !== 'public' || isMapped(bytes)) return cls;
  }
  return classifyBytes(bytes);
}

function classifyBytes(bytes: number[]): AddressClass {
  for (const r of RANGES) if (inPrefix(bytes, r.bytes, r.bits)) return r.cls;
  return 'public';
}

export interface AddressPolicy {
  /** egress.allow or egress.resolve names the host exactly: the operator chose it, whatever its address. */
  named: boolean;
  /** egress.allow_private_addresses: private ranges (not metadata, loopback or link-local) are allowed. */
  allowPrivate: boolean;
}

/** Whether a socket may connect to an address of this class. */
export function addressAllowed(cls: AddressClass, policy: AddressPolicy): boolean {
  if (cls === 'public' || policy.named) return true;
  return cls === 'private' && policy.allowPrivate;
}

/** The class that refuses this address, or undefined when it is allowed. */
export function addressRefusal(address: string, policy: AddressPolicy): AddressClass | undefined {
  const cls = classifyAddress(address);
  return addressAllowed(cls, policy) ? undefined : cls;
}

/** 16 bytes (IPv4 as IPv4-mapped IPv6), or undefined when it is not an IP address. */
export function parseAddress(address: string): number[] | undefined {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%'); // fe80::1%eth0: the zone says which link, not which address
  if (zone >= 0 && a.includes(':')) a = a.slice(0, zone);
  const four = parseIPv4(a);
  if (four) return mapped(four);
  return parseIPv6(a);
}

/** Dotted quad only (a resolver never answers with another spelling; a name is resolved before it gets here). */
function parseIPv4(a: string): number[] | undefined {
  const parts = a.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : undefined;
}

function parseIPv6(a: string): number[] | undefined {
  if (!a.includes(':')) return undefined;
  // A dotted quad at the end (`::ffff:127.0.0.1`) is the last two groups.
  const lastColon = a.lastIndexOf(':');
  const tail = a.slice(lastColon + 1);
  if (tail.includes('.')) {
    const four = parseIPv4(tail);
    if (!four) return undefined;
    a =
      `${a.slice(0, lastColon + 1)}${((four[0] << 8) | four[1]).toString(16)}:` +
      `${((four[2] << 8) | four[3]).toString(16)}`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  if ([...left, ...right].some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...left, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...right].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 255]);
}

function mapped(four: number[]): number[] {
  return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...four];
}

function isMapped(b: number[]): boolean {
  return b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

/** The IPv4 address inside an IPv6 one that reaches it, when there is one. */
function embeddedIPv4(b: number[]): number[] | undefined {
  if (isMapped(b)) return undefined; // already classified as IPv4 by the table
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8) && b[8] === 0xff && b[9] === 0xff && zeros(10, 12)) return b.slice(12); // ::ffff:0:a.b.c.d (RFC 2765)
  // 64:ff9b::/96 (RFC 6052)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.slice(12);
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6); // 6to4 2002:AABB:CCDD::/48
  return undefined;
}

function inPrefix(bytes: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (prefix[i] & mask)) return false;
  }
  return true;
}

/** The code of the error egress's socket fails with when it refuses an address (hops/runtime/egress-dial.ts). */
export const ADDRESS_REFUSED = 'MOAT_EGRESS_ADDRESS_REFUSED';
