// Malformed input for ingress, generated from a seed: request lines, oversized headers, bad chunked
// bodies, garbage where TLS should be, odd CONNECT authorities and absolute-form URLs. Each case says
// how it is sent and which answers are acceptable ('closed': no status, the connection closed).
import { SeededRandom } from './seeded-random';

export type Via = 'plain' | 'tunnel' | 'tls';
export type Answer = number | 'closed';

export interface MalformedCase {
  group: string;
  name: string;
  /** plain: straight to ingress; tunnel: raw bytes after CONNECT; tls: inside TLS after CONNECT. */
  via: Via;
  payload: Buffer;
  allowed: Answer[];
}

const KiB = 1024;
const MiB = 1024 * KiB;
const bytes = (text: string) => Buffer.from(text, 'latin1');

/** Printable and control characters a request line should not hold, plus the ones it should. */
function garbageText(rng: SeededRandom, length: number, alphabet?: string): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet ? rng.pick([...alphabet]) : String.fromCharCode(rng.int(0, 255));
  return out;
}

function requestLines(rng: SeededRandom, n: number, auth: string): MalformedCase[] {
  const methods = ['GET', 'POST', 'CONNECT', 'PRI', 'G ET', '', 'GET\t', 'get', 'GET\x00', 'X'.repeat(300)];
  const targets = [
    'http://api.anthropic.com/v1/models',
    '/',
    '*',
    '',
    'http://',
    'api.anthropic.com:443',
    '//',
    '\x7f',
  ];
  const versions = [
    'HTTP/1.1',
    'HTTP/1.0',
    'HTTP/2.0',
    'HTTP/1.1x',
    'HTTP/',
    'http/1.1',
    '',
    'HTTP/1.1 extra',
    'HTTP/0.9',
  ];
  const cases: MalformedCase[] = [];
  for (let i = 0; i < n; i++) {
    let line: string;
    const kind = rng.int(0, 3);
    if (kind === 0) line = garbageText(rng, rng.int(1, 200), "abcXYZ019 /:.%?#[]@!$&'()*+,;=-_~\t");
    else if (kind === 1) line = garbageText(rng, rng.int(1, 300));
    else if (kind === 2) line = [rng.pick(methods), rng.pick(targets), rng.pick(versions)].join(' ');
    else {
      // A valid line with one byte changed.
      const valid = `GET http://api.anthropic.com/v1/models HTTP/1.1`;
      const at = rng.int(0, valid.length - 1);
      line = valid.slice(0, at) + String.fromCharCode(rng.int(0, 255)) + valid.slice(at + 1);
    }
    const withAuth = rng.next() < 0.5 ? `Proxy-Authorization: ${auth}\r\n` : '';
    // 403/502: a line that happens to be a valid request goes through the chain (to the fake provider, or refused by
    // egress).
    cases.push({
      group: 'request line',
      name: JSON.stringify(line.slice(0, 60)),
      via: 'plain',
      payload: bytes(`${line}\r\nHost: api.anthropic.com\r\n${withAuth}\r\n`),
      allowed: [400, 403, 407, 502, 'closed'],
    });
  }
  return cases;
}

function oversizedHeaders(auth: string): MalformedCase[] {
  const cases: MalformedCase[] = [];
  for (const size of [64 * KiB, 1 * MiB]) {
    const big = `X-Big: ${'a'.repeat(size)}\r\n`;
    const label = `${size / KiB} KiB`;
    cases.push({
      group: 'oversized headers',
      name: `CONNECT with a ${label} header`,
      via: 'plain',
      payload: bytes(`CONNECT api.anthropic.com:443 HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n${big}\r\n`),
      allowed: [431, 'closed'],
    });
    cases.push({
      group: 'oversized headers',
      name: `absolute-form with a ${label} header`,
      via: 'plain',
      payload: bytes(
        `GET http://api.anthropic.com/v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nProxy-Authorization: ` +
          `${auth}\r\n${big}\r\n`,
      ),
      allowed: [431, 'closed'],
    });
    cases.push({
      group: 'oversized headers',
      name: `${label} header inside TLS`,
      via: 'tls',
      payload: bytes(`GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n${big}\r\n`),
      allowed: [431, 'closed'],
    });
  }
  const many = Array.from({ length: 5000 }, (_, i) => `X-H${i}: v\r\n`).join('');
  cases.push({
    group: 'oversized headers',
    name: '5000 small headers inside TLS',
    via: 'tls',
    payload: bytes(`GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n${many}\r\n`),
    allowed: [431, 'closed'],
  });
  cases.push({
    group: 'oversized headers',
    name: '64 KiB URL, absolute-form',
    via: 'plain',
    payload: bytes(
      `GET http://api.anthropic.com/${'p'.repeat(64 * KiB)} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`,
    ),
    allowed: [431, 'closed'],
  });
  return cases;
}

function badChunked(rng: SeededRandom, auth: string): MalformedCase[] {
  const bodies = [
    'zz\r\nhello\r\n0\r\n\r\n',
    '-1\r\nhello\r\n0\r\n\r\n',
    'ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n',
    '5\r\nhelloXX0\r\n\r\n',
    `5;${'e'.repeat(20 * KiB)}\r\nhello\r\n0\r\n\r\n`,
    '5\r\nhello\r\n0\r\nX-Trailer\r\n\r\n',
    `${garbageText(rng, 8, '0123456789abcdefxyz;= ')}\r\nhello\r\n0\r\n\r\n`,
    `${garbageText(rng, 8, '0123456789abcdefxyz;= ')}\r\nhello\r\n0\r\n\r\n`,
  ];
  const cases: MalformedCase[] = [];
  for (const body of bodies) {
    const name = JSON.stringify(body.slice(0, 30));
    cases.push({
      group: 'bad chunked',
      name: `absolute-form ${name}`,
      via: 'plain',
      payload: bytes(
        `POST http://api.anthropic.com/echo HTTP/1.1\r\nHost: api.anthropic.com\r\nProxy-Authorization: ` +
          `${auth}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
      ),
      allowed: [400, 'closed'],
    });
    cases.push({
      group: 'bad chunked',
      name: `inside TLS ${name}`,
      via: 'tls',
      payload: bytes(`POST /echo HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: chunked\r\n\r\n${body}`),
      allowed: [400, 'closed'],
    });
  }
  // Both lengths (request smuggling): refused outright.
  cases.push({
    group: 'bad chunked',
    name: 'Content-Length and Transfer-Encoding inside TLS',
    via: 'tls',
    payload: bytes(
      'POST /echo HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 5\r\nTransfer-Encoding: ' +
        'chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    ),
    allowed: [400, 'closed'],
  });
  return cases;
}

function tlsGarbage(rng: SeededRandom): MalformedCase[] {
  const cases: MalformedCase[] = [];
  for (let i = 0; i < 4; i++) {
    cases.push({
      group: 'TLS garbage after CONNECT',
      name: `handshake record of ${i === 0 ? 'zeros' : 'random bytes'} #${i}`,
      via: 'tunnel',
      payload: Buffer.concat([
        Buffer.from([0x16, 0x03, 0x01]),
        i === 0 ? Buffer.alloc(300) : rng.bytes(rng.int(2, 600)),
      ]),
      allowed: ['closed'],
    });
  }
  cases.push({
    group: 'TLS garbage after CONNECT',
    name: 'SSLv2-style hello',
    via: 'tunnel',
    payload: Buffer.concat([Buffer.from([0x80, 0x2e, 0x01]), rng.bytes(46)]),
    allowed: [400, 'closed'],
  });
  cases.push({
    group: 'TLS garbage after CONNECT',
    name: 'random bytes, not TLS',
    via: 'tunnel',
    payload: Buffer.concat([Buffer.from([0x01]), rng.bytes(200), bytes('\r\n\r\n')]),
    allowed: [400, 'closed'],
  });
  cases.push({
    group: 'TLS garbage after CONNECT',
    name: 'garbage after a complete handshake',
    via: 'tls',
    payload: Buffer.concat([rng.bytes(300), bytes('\r\n\r\n')]),
    allowed: [400, 'closed'],
  });
  return cases;
}

/** CONNECT authorities: out-of-range and non-numeric ports are refused with 400; any valid port is tunnelled (200). */
function connectPorts(auth: string): MalformedCase[] {
  const refused = [
    'api.anthropic.com:0',
    'api.anthropic.com:65536',
    'api.anthropic.com:abc',
    'api.anthropic.com',
    'api.anthropic.com:-1',
    'api.anthropic.com:443abc',
    'api.anthropic.com:99999999999999999999',
    'api.anthropic.com:443:443',
    ':443',
    'api anthropic.com:443',
    '%00:443',
  ];
  const cases: MalformedCase[] = refused.map((authority) => ({
    group: 'CONNECT odd ports',
    name: JSON.stringify(authority),
    via: 'plain' as Via,
    payload: bytes(`CONNECT ${authority} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`),
    allowed: [400] as Answer[],
  }));
  for (const authority of ['api.anthropic.com:22', 'api.anthropic.com:1', 'api.anthropic.com:65535', '[::1]:443']) {
    cases.push({
      group: 'CONNECT odd ports',
      name: `${JSON.stringify(authority)} (a valid port)`,
      via: 'plain',
      payload: bytes(`CONNECT ${authority} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`),
      allowed: [200],
    });
  }
  cases.push({
    group: 'CONNECT odd ports',
    name: 'no token',
    via: 'plain',
    payload: bytes('CONNECT api.anthropic.com:0 HTTP/1.1\r\n\r\n'),
    allowed: [407],
  });
  return cases;
}

function absoluteUrls(rng: SeededRandom, n: number, auth: string): MalformedCase[] {
  const fixed = [
    'http://%zz/',
    'http://',
    'http:///',
    'http://[::1/',
    'http://api.anthropic.com:99999/',
    'http://a b/',
    'http://\x7f/',
    'http://api.anthropic.com:-1/',
    'http://@/',
    'http://[]/',
    'http://.../',
    `http://${'a'.repeat(300)}.com/`,
  ];
  const random = Array.from({ length: n }, () => `http://${garbageText(rng, rng.int(1, 60), 'abcz019%[]:@/?#.-_~')}`);
  // 403: a URL that parses names a host egress.allow does not have.
  return [...fixed, ...random].map((url) => ({
    group: 'absolute-form URLs',
    name: JSON.stringify(url.slice(0, 60)),
    via: 'plain' as Via,
    payload: bytes(`GET ${url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth}\r\n\r\n`),
    allowed: [400, 403, 'closed'] as Answer[],
  }));
}

export function malformedCases(seed: number, auth: string): MalformedCase[] {
  const rng = new SeededRandom(seed);
  return [
    ...requestLines(rng, 40, auth),
    ...oversizedHeaders(auth),
    ...badChunked(rng, auth),
    ...tlsGarbage(rng),
    ...connectPorts(auth),
    ...absoluteUrls(rng, 30, auth),
  ];
}
