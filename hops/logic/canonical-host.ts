// One spelling of a destination host for every decision and record (issue 16, first part: hosts). A server reads
// `Blocked.Example.Test.`, `2130706433` or `[::ffff:7f00:1]` as `blocked.example.test`, `127.0.0.1` and `127.0.0.1`;
// a rule, egress.allow or the guard against this machine's addresses that read them as written was bypassed by a
// spelling. Pure: the WHATWG URL host parser (what browsers and Node's fetch use) does the decoding.

/**
 * The canonical form of a host, without brackets: lower case, one trailing dot removed, an internationalised name in
 * its ASCII (punycode) form, every numeric IPv4 spelling as a dotted quad, IPv6 compressed, and an IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`, however written) as the IPv4 address it reaches. undefined when it is no host at all.
 */
export function canonicalHost(host: string): string | undefined {
  let h = host.trim();
  if (h === '') return undefined;
  if (!h.startsWith('[') && h.includes(':')) h = `[${h}]`; // a bare IPv6 address
  let parsed: string;
  try {
    parsed = new URL(`http://${h}/`).hostname;
  } catch {
    return undefined;
  }
  if (parsed.startsWith('[')) {
    const v6 = parsed.slice(1, -1);
    return mappedIPv4(v6) ?? v6;
  }
  const name = parsed.endsWith('.') ? parsed.slice(0, -1) : parsed;
  return name === '' ? undefined : name;
}

/** `::ffff:7f00:1` (the URL parser's form of every IPv4-mapped spelling) -> `127.0.0.1`; undefined for other IPv6. */
function mappedIPv4(v6: string): string | undefined {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (!m) return undefined;
  const hi = parseInt(m[1], 16);
  const lo = parseInt(m[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
