// A finding as one RFC 5424 syslog message (pure): `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [moat@32473 k="v" ...] MSG`.
// The finding's fields go into structured data, so a SIEM reads them without parsing the text; SD-PARAM values escape
// `"`, `\` and `]` as RFC 5424 section 6.3.3 requires, and header fields hold printable ASCII only (section 6). 32473
// is the enterprise number RFC 5612 reserves for documentation: moat has none of its own.
import type { Finding } from './finding';
import { findingMessage } from './sarif';

export const SD_ID = 'moat@32473';
/** RFC 5426 asks receivers for 2048 bytes at least; most take 8 KiB. A UDP message is cut there. */
export const UDP_MAX_BYTES = 8192;

export const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'audit',
  'alert',
  'clock',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

/** The facility's number, from its name or number. */
export function facilityNumber(f: number | string | undefined): number {
  if (typeof f === 'number') return f;
  const i = FACILITIES.indexOf((f ?? 'local0') as (typeof FACILITIES)[number]);
  return i < 0 ? 16 : i;
}

/** RFC 5424 severities: error is 3 (err), warning 4. */
export function severity(f: Pick<Finding, 'level'>): number {
  return f.level === 'error' ? 3 : 4;
}

/** An SD-PARAM value: `"`, `\` and `]` escaped with a backslash; control characters dropped (a line stays a line). */
export function sdValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  return v.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: printable ASCII without spaces, at most `max` characters, `-` when empty. */
export function headerField(v: string | undefined, max: number): string {
  const clean = (v ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

export interface SyslogOrigin {
  hostname: string;
  appName?: string;
  procId?: number | string;
  facility: number;
}

export function syslogMessage(f: Finding, o: SyslogOrigin): string {
  const pri = o.facility * 8 + severity(f);
  const params: [string, string | number | undefined][] = [
    ['chain', f.chain],
    ['code', f.code],
    ['level', f.level],
    ['trace', f.trace],
    ['event', f.event],
    ['hop', f.hop],
    ['hop_name', f.hop_name],
    ['rule', f.rule],
    ['detectors', f.detectors?.join(',')],
    ['method', f.method],
    ['url', f.url],
    ['status', f.status],
    ['reason', f.reason],
  ];
  const sd = params
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}="${sdValue(String(v))}"`)
    .join(' ');
  const header = [
    `<${pri}>1`,
    headerField(f.time, 64),
    headerField(o.hostname, 255),
    headerField(o.appName ?? 'moat', 48),
    headerField(o.procId === undefined ? undefined : String(o.procId), 128),
    headerField(f.code, 32),
  ].join(' ');
  // eslint-disable-next-line no-control-regex
  return `${header} [${SD_ID} ${sd}] ${findingMessage(f).replace(/[\u0000-\u001f\u007f]/g, ' ')}`;
}

/** A UDP datagram: the message cut at UDP_MAX_BYTES (on a character boundary). */
export function udpDatagram(message: string): Buffer {
  const bytes = Buffer.from(message);
  if (bytes.length <= UDP_MAX_BYTES) return bytes;
  return Buffer.from(
    bytes
      .subarray(0, UDP_MAX_BYTES)
      .toString('utf8')
      .replace(/\uFFFD$/, ''),
  );
}

/** TCP (RFC 6587 octet counting): `LEN SP MSG`. */
export function tcpFrame(message: string): Buffer {
  const bytes = Buffer.from(message);
  return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
}
