// Header hygiene at every boundary.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// RFC 9110 7.6.1 connection-specific fields, plus the proxy ones a client sends only to us.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** A copy without hop-by-hop headers (and those named in Connection). */
export function endToEndHeaders(headers: IncomingHttpHeaders, dropMoat = false): OutgoingHttpHeaders {
  const named = String(headers['connection'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    if (dropMoat && name.startsWith('x-moat-')) continue;
    out[name] = value;
  }
  return out;
}
