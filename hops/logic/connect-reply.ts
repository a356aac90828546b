// The answer to a CONNECT as it arrives on a socket (pure: the callers read and write). Three places open
// tunnels through a proxy (tunnel-agent.ts, blind-tunnel.ts, transparent/relay.ts) and each waits for the
// same thing: a head that ends in a blank line, within a bound, and its status.
export const MAX_CONNECT_HEAD_BYTES = 16 * 1024;

export interface ConnectHead {
  /** 200 opens the tunnel; 0 when the first line is not an HTTP/1.x status line. */
  status: number;
  /** The first line as sent (latin1), for messages. */
  statusLine: string;
  /** The reason phrase, or the start of the first line when it is no status line. */
  reason: string;
  /** The head's text (status line and headers, without the blank line). */
  head: string;
  /** Where what follows the head starts in the buffer (tunnel bytes, or a refusal's body). */
  bodyStart: number;
}

/** The head of a CONNECT answer once `got` holds all of it; 'incomplete' until then; 'too_large' past the bound. */
export function parseConnectHead(got: Buffer): ConnectHead | 'incomplete' | 'too_large' {
  const end = got.indexOf('\r\n\r\n');
  if (end < 0) return got.length > MAX_CONNECT_HEAD_BYTES ? 'too_large' : 'incomplete';
  const head = got.toString('latin1', 0, end);
  const lineEnd = head.indexOf('\r\n');
  const statusLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
  return {
    status: m ? Number(m[1]) : 0,
    statusLine,
    reason: m ? m[2] : statusLine.slice(0, 80),
    head,
    bodyStart: end + 4,
  };
}

/** The header fields of a refusal's head (names in lower case, the first of repeated ones). */
export function headFields(head: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    fields[name] ??= line.slice(colon + 1).trim();
  }
  return fields;
}

/** A whole refusal (head and body) without the header field `name`. */
export function withoutField(response: Buffer, name: string): Buffer {
  const end = response.indexOf('\r\n\r\n');
  if (end < 0) return response;
  const lines = response.toString('latin1', 0, end).split('\r\n');
  const kept = lines.filter((line, i) => i === 0 || line.slice(0, line.indexOf(':')).trim().toLowerCase() !== name);
  if (kept.length === lines.length) return response;
  return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), response.subarray(end)]);
}

/** A whole refusal with the header field `name: value` in place of any it had. */
export function withField(response: Buffer, name: string, value: string): Buffer {
  const without = withoutField(response, name);
  const lineEnd = without.indexOf('\r\n');
  if (lineEnd < 0) return without;
  return Buffer.concat([
    without.subarray(0, lineEnd + 2),
    Buffer.from(`${name}: ${value}\r\n`, 'latin1'),
    without.subarray(lineEnd + 2),
  ]);
}
