// The host a plain HTTP request is for, read from its head (the Host header, or the authority of an
// absolute-form target) before anything is forwarded. Pure, like sni.ts: fed the bytes so far, it
// says "more", the host, or why there is none.
import { isHostName } from './sni';

export type HostFound =
  { kind: 'more' } | { kind: 'host'; host: string; port?: number } | { kind: 'none'; reason: string };

/** Request line and headers larger than this are refused (Node's own limit is 16 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;

export function requestHost(data: Buffer): HostFound {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0)
    return data.length >= MAX_HEAD_BYTES ? { kind: 'none', reason: 'the request head is too large' } : { kind: 'more' };
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^[A-Z]+ (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
  if (!m) return { kind: 'none', reason: 'not an HTTP/1 request' };
  const absolute = /^http:\/\/([^/?#]+)/i.exec(m[1]);
  if (absolute) return authority(absolute[1]);
  const hosts = lines.slice(1).filter((l) => /^host:/i.test(l));
  if (hosts.length !== 1)
    return { kind: 'none', reason: hosts.length ? 'more than one Host header' : 'no Host header' };
  return authority(hosts[0].slice(5).trim());
}

function authority(text: string): HostFound {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m || !isHostName(m[1])) return { kind: 'none', reason: `"${text}" is not a host name` };
  const host = m[1].toLowerCase().replace(/\.$/, '');
  if (m[2] === undefined) return { kind: 'host', host };
  const port = Number(m[2]);
  return port > 0 && port < 65536
    ? { kind: 'host', host, port }
    : { kind: 'none', reason: `"${text}" has no valid port` };
}
