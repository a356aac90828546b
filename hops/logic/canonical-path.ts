// One spelling of a request's path for every decision and record (issue 16, second part: paths). A server reads
// `/./admin/users`, `/x/../admin/users`, `/%61dmin/users` and `/%2e/admin/users` as `/admin/users`; a rule that read
// them as written was bypassed by a spelling. Each link puts the request target into the form below and sends that
// form on, so the rules, the records and the server all read the same bytes. What servers read differently from one
// another (an encoded slash, a backslash, double encoding, ...) has no one reading, so it is refused instead.
// Pure; the form is a fixed point (canonicalPath of its own output returns it unchanged), so every link after the
// first passes it through as it is.

/** What `ingress.allow_in_paths` may let through, kept as written: each is refused by default. */
// Runs of `/` have no allowance: they are merged in the form every link sends on.
export const PATH_ALLOWANCES = ['%2F', '%5C', '%00', '%25', 'invalid-utf8', ';'] as const;
export type PathAllowance = (typeof PATH_ALLOWANCES)[number];

export type CanonicalPath =
  | { ok: true; path: string }
  /**
   * what: the construct refused (`%2F`, `backslash`, ...); allowable: the `ingress.allow_in_paths` entry that would let
   * it through.
   */
  | { ok: false; what: string; reason: string; allowable?: PathAllowance };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// Characters a path may hold as they are (RFC 3986 pchar) that no HTTP server reads as a delimiter inside a path:
// encoded, they are decoded, so `/v1/models/x%3Agenerate` and `/v1/models/x:generate` are one path to the rules
// as to the server. `+` (a space to some servers), `;` (path parameters) and `/ ? # %` keep their encoding.
const HARMLESS_DELIMS = new Set([':', '@', '!', '$', '&', "'", '(', ')', '*', ',', '=']);
// Characters a path may not hold as they are (RFC 3986), which servers take as written: sent encoded, one spelling.
const ENCODE_RAW = new Set(['"', '<', '>', '^', '`', '{', '|', '}', '[', ']']);
const HEX = /^[0-9A-Fa-f]{2}$/;
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;
const DOTS_OR_EMPTY = /\/\.{0,2}(?:\/|$)/;

/**
 * The canonical form of an origin-form request target (`/path?query`): unreserved characters (and the harmless
 * delimiters above) decoded, every other percent-encoding in upper-case hex, characters a URI may not hold raw encoded,
 * runs of `/` merged into one, dot segments removed (RFC 3986 5.2.4, after decoding, so `%2e` is a dot). The query is
 * kept as it is. Refused, naming why: a target not starting with `/`, a fragment, a raw control or non-ASCII byte, a
 * backslash, a `%` without two hex digits, `%2F`, `%5C`, `%00`, other encoded control characters, double encoding
 * (`%25` before two hex digits), encoded bytes that are not UTF-8 (overlong dots like `%C0%AE` included), encoded
 * characters that NFKC turns into ASCII (fullwidth `／`, `．`, `Ａ`), `;` path parameters, and a dot segment hidden
 * in a segment (`..;x`, `..%00x`, `a%2F..` when `;`, `%00` or `%2F` are allowed). `allow` lets the allowances named
 * in PATH_ALLOWANCES through, kept as written (hex in upper case).
 */
export function canonicalPath(target: string, allow: readonly string[] = []): CanonicalPath {
  const allowed = (a: PathAllowance) => allow.includes(a);
  if (!target.startsWith('/')) return refuse('not-a-path', 'the request target must be a path starting with /');
  const hash = target.indexOf('#');
  if (hash >= 0)
    return refuse(
      'fragment',
      'a # (fragment) is never part of what a server reads, and servers differ on where it ends the path',
    );
  const q = target.indexOf('?');
  const raw = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  const bad = badRawByte(query);
  if (bad !== undefined) return bad;
  // Most paths are canonical as sent (`/v1/messages`): no percent sign, nothing to encode, no dot or empty segment.
  if (PLAIN.test(raw) && !DOTS_OR_EMPTY.test(raw)) return { ok: true, path: target };

  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '%') {
      const code = c.charCodeAt(0);
      if (code <= 0x20 || code >= 0x7f) return badRawByte(c)!;
      if (c === '\\')
        return refuse('backslash', 'a backslash: some servers read it as /, others as a character of the segment');
      if (c === ';' && !allowed(';'))
        return refuse(
          ';',
          'a ; (path parameters): Java servers drop it and what follows in the segment (/admin;x/users is ' +
            '/admin/users to Tomcat)',
          ';',
        );
      out += ENCODE_RAW.has(c) ? pct(c.charCodeAt(0)) : c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex))
      return refuse(
        'bad-percent',
        'a % not followed by two hex digits: servers keep it, drop it or refuse the request',
      );
    const byte = parseInt(hex, 16);
    i += 2;
    if (byte >= 0x80) {
      // A run of encoded bytes above 0x7f: one or more UTF-8 characters, kept encoded once they prove to be UTF-8.
      const run = [byte];
      while (raw[i + 1] === '%' && HEX.test(raw.slice(i + 2, i + 4)) && parseInt(raw.slice(i + 2, i + 4), 16) >= 0x80) {
        run.push(parseInt(raw.slice(i + 2, i + 4), 16));
        i += 3;
      }
      const text = utf8Text(run);
      if (text === undefined && !allowed('invalid-utf8'))
        return refuse(
          'invalid-utf8',
          'percent-encoded bytes that are not UTF-8 (an overlong %C0%AE is a dot to some servers)',
          'invalid-utf8',
        );
      // eslint-disable-next-line no-control-regex
      if (text !== undefined && /[\x00-\x7f]/.test(text.normalize('NFKC')))
        return refuse(
          'unicode-ascii',
          'a character that Unicode normalisation (NFKC, which some servers apply) turns into ASCII (a ' +
            'fullwidth slash, dot or letter): such a server reads another path',
        );
      out += run.map(pct).join('');
      continue;
    }
    const ch = String.fromCharCode(byte);
    if (UNRESERVED.test(ch) || HARMLESS_DELIMS.has(ch)) out += ch;
    else if (byte === 0x2f) {
      if (!allowed('%2F'))
        return refuse(
          '%2F',
          'an encoded slash (%2F): some servers read it as a segment separator, others as part of the segment',
          '%2F',
        );
      out += '%2F';
    } else if (byte === 0x5c) {
      if (!allowed('%5C'))
        return refuse('%5C', 'an encoded backslash (%5C): some servers read it as /, others as a character', '%5C');
      out += '%5C';
    } else if (byte === 0) {
      if (!allowed('%00')) return refuse('%00', 'an encoded NUL (%00): servers written in C end the path there', '%00');
      out += '%00';
    } else if (byte < 0x20 || byte === 0x7f) {
      return refuse('control', `an encoded control character (${pct(byte)}): servers trim, split or refuse it`);
    } else out += pct(byte);
  }
  // After decoding: `%25%34%31` is `%2541` as much as `%2541` is.
  const twice = /%25([0-9A-Fa-f]{2})/.exec(out);
  if (twice && !allowed('%25'))
    return refuse('%25', `double encoding (%25${twice[1]}): a server that decodes twice reads another path`, '%25');

  for (const s of out.split('/').slice(1)) {
    if (isDot(s)) continue;
    // What a server may take for the segment: `..;x` is `..` to one that drops parameters, `..%00x` to one in C, and
    // with %2F allowed, `a%2F..%2Fb` holds `..` for one that decodes before resolving dot segments.
    const cut = s.split(';')[0].split('%00')[0];
    if (cut.split(/%2F|%5C/).some(isDot))
      return refuse(
        'hidden-dot-segment',
        'a dot segment hidden in a segment (..;x, ..%00x, a%2F..): servers that cut a segment at ; or %00, ' +
          'or split it at %2F or %5C, resolve it',
      );
  }
  return { ok: true, path: removeDotSegments(out.replace(/\/{2,}/g, '/')) + query };
}

function refuse(what: string, reason: string, allowable?: PathAllowance): CanonicalPath {
  return allowable ? { ok: false, what, reason, allowable } : { ok: false, what, reason };
}

/** A raw byte no request target may carry (Node's parser refuses most of them already): controls, space, non-ASCII. */
function badRawByte(text: string): CanonicalPath | undefined {
  // eslint-disable-next-line no-control-regex
  const m = /[\x00-\x20\x7f-\uffff]/.exec(text);
  if (!m) return undefined;
  return refuse(
    'raw-byte',
    `a raw byte outside printable ASCII ` +
      `(0x${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}) in the request target`,
  );
}

function pct(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

function isDot(segment: string): boolean {
  return segment === '.' || segment === '..';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF, nothing cut short); else
 * undefined.
 */
function utf8Text(bytes: number[]): string | undefined {
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/** RFC 3986 5.2.4 over an absolute path: `.` segments go, `..` takes the segment before it (never past the root). */
export function removeDotSegments(path: string): string {
  const input = path.split('/').slice(1);
  const output: string[] = [];
  input.forEach((segment, i) => {
    const last = i === input.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') output.pop();
      // A dot segment at the end leaves the path ending in / (`/a/b/..` is `/a/`).
      if (last) output.push('');
      return;
    }
    output.push(segment);
  });
  return `/${output.join('/')}`;
}
