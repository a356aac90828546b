// The texts a server may read out of one text (pure): JSON string escapes resolved, percent-encoding
// decoded (form fields and queries with `+` as space), base64 runs decoded, UTF-16 read without its
// NUL bytes, nested up to a depth. The DLP detectors run over each view, and every character of a
// view knows the span of the original text it came from, so that a finding is masked in its ENCODED
// form in what is stored. Only what looks encoded is decoded: a plain JSON body costs one regex test
// per decoder. Work is bounded (decoded characters, views, depth); a reading that hit the bound is
// marked incomplete, and callers fail closed on it.

export interface DecodeBounds {
  /** Decoded characters over all views: this many times the text's length, plus `decodedSlack`. */
  decodedPerChar: number;
  decodedSlack: number;
  /** Views besides the text itself. */
  maxViews: number;
  /** Encodings nested in one another that are read (base64 in a JSON string in a form field is 3). */
  maxDepth: number;
}

export const DEFAULT_BOUNDS: Readonly<DecodeBounds> = Object.freeze({
  decodedPerChar: 8,
  decodedSlack: 1 << 16,
  maxViews: 4096,
  maxDepth: 4,
});

/** A base64 run shorter than this is not decoded (a 15-byte secret is 20 characters). */
export const MIN_BASE64_RUN = 20;
/** Printable stretches of decoded base64 shorter than this are not read (binary data by chance). */
const MIN_STRETCH = 16;

export interface DecodedView {
  text: string;
  /**
   * For each character of text, the span [starts[i], ends[i]) of the original it came from; absent for the original
   * itself.
   */
  starts?: Int32Array;
  ends?: Int32Array;
  /** How it was read, outermost first: '' for the text itself, 'json', 'json>base64', ... */
  how: string;
  depth: number;
}

export interface Reading {
  views: DecodedView[];
  /** False when a bound stopped the reading: some of the text may hold what was not read. */
  complete: boolean;
  reason?: string;
}

export interface ReadOptions {
  /** The text is a form body or a query string: percent-decoded as a whole, `+` is a space. */
  form?: boolean;
  bounds?: Partial<DecodeBounds>;
}

/** A view local to its parent: each character's span in the parent's text. */
interface Local {
  text: string;
  starts: Int32Array;
  ends: Int32Array;
  how: string;
}

type Decoder = (text: string, form: boolean, seen: Set<string>) => Local[];

const HEX = '0123456789abcdefABCDEF';
const hexValue = (c: number) => (c <= 57 ? c - 48 : (c | 32) - 87);

/** Characters one by one into a string, with their parent spans (typed arrays: 10 bytes a character). */
class Builder {
  private codes = new Uint16Array(64);
  private s = new Int32Array(64);
  private e = new Int32Array(64);
  private n = 0;
  push(code: number, start: number, end: number): void {
    if (this.n === this.codes.length) {
      const grow = <T extends Uint16Array | Int32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.codes = grow(this.codes);
      this.s = grow(this.s);
      this.e = grow(this.e);
    }
    this.codes[this.n] = code;
    this.s[this.n] = start;
    this.e[this.n] = end;
    this.n++;
  }
  get length(): number {
    return this.n;
  }
  done(how: string): Local {
    const text = Buffer.from(this.codes.buffer, this.codes.byteOffset, this.n * 2).toString('utf16le');
    return { text, starts: this.s.slice(0, this.n), ends: this.e.slice(0, this.n), how };
  }
}

// JSON: only when an escape could hide a character a detector reads (\u, \/). \n, \", \\ stand for
// characters no secret alphabet holds, and the detectors read them as separators already.
const JSON_TRIGGER = /\\u[0-9a-fA-F]{4}|\\\//;
const SIMPLE_ESCAPES: Record<string, number> = { '"': 34, '\\': 92, '/': 47, b: 8, f: 12, n: 10, r: 13, t: 9 };

const jsonView: Decoder = (text) => {
  if (!JSON_TRIGGER.test(text)) return [];
  // Unescaped stretches are copied whole; typed arrays hold the spans (a decoded view is never longer).
  const starts = new Int32Array(text.length);
  const ends = new Int32Array(text.length);
  const parts: string[] = [];
  let n = 0;
  let from = 0;
  const copy = (to: number) => {
    parts.push(text.slice(from, to));
    for (let i = from; i < to; i++, n++) {
      starts[n] = i;
      ends[n] = i + 1;
    }
  };
  for (let i = text.indexOf('\\'); i >= 0 && i + 1 < text.length; i = text.indexOf('\\', i)) {
    const next = text[i + 1];
    let code = -1;
    let width = 2;
    if (next === 'u' && i + 5 < text.length && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
      code = parseInt(text.slice(i + 2, i + 6), 16);
      width = 6;
    } else if (next in SIMPLE_ESCAPES) code = SIMPLE_ESCAPES[next];
    if (code < 0) {
      i += 1;
      continue;
    }
    copy(i);
    parts.push(String.fromCharCode(code));
    starts[n] = i;
    ends[n] = i + width;
    n++;
    i += width;
    from = i;
  }
  copy(text.length);
  return [{ text: parts.join(''), starts: starts.subarray(0, n), ends: ends.subarray(0, n), how: 'json' }];
};

const PERCENT = /%[0-9A-Fa-f]{2}/g;
// What ends a URL-like token in free text (a JSON string, prose).
const TOKEN_END = /[\s"'<>\\`]/;

/** `text[from, to)` percent-decoded (and `+` as a space in forms), spans relative to text. */
function percentDecode(text: string, from: number, to: number, form: boolean, out: Builder): void {
  for (let i = from; i < to;) {
    const c = text.charCodeAt(i);
    if (c === 37 && i + 2 < to && HEX.includes(text[i + 1]) && HEX.includes(text[i + 2])) {
      out.push(hexValue(text.charCodeAt(i + 1)) * 16 + hexValue(text.charCodeAt(i + 2)), i, i + 3);
      i += 3;
      continue;
    }
    out.push(form && c === 43 ? 32 : c, i, i + 1);
    i++;
  }
}

// Percent-encoding: a form or query as a whole; in other text, each token that holds a %XX.
const percentView: Decoder = (text, form) => {
  if (form) {
    if (!/%[0-9A-Fa-f]{2}|\+/.test(text)) return [];
    const out = new Builder();
    percentDecode(text, 0, text.length, true, out);
    return [out.done('form')];
  }
  PERCENT.lastIndex = 0;
  if (!PERCENT.test(text)) return [];
  const out = new Builder();
  let reached = 0;
  PERCENT.lastIndex = 0;
  for (let m = PERCENT.exec(text); m; m = PERCENT.exec(text)) {
    if (m.index < reached) continue;
    let start = m.index;
    while (start > reached && !TOKEN_END.test(text[start - 1])) start--;
    let end = m.index + 3;
    while (end < text.length && !TOKEN_END.test(text[end])) end++;
    if (out.length > 0) out.push(10, start, start); // a line break between tokens: no secret spans two
    percentDecode(text, start, end, false, out);
    reached = end;
    PERCENT.lastIndex = end;
  }
  return [out.done('percent')];
};

// Base64 (standard and URL-safe alphabets), also wrapped in lines (MIME, PEM; real or JSON-escaped breaks): a run of at
// least MIN_BASE64_RUN alphabet characters, continued over each line break (CRLF, LF, or JSON's \r\n and \n) that is
// followed by more of them. Found by a scan, not a regular expression: V8's backtracking stack overflowed on a run of
// 8 MiB (a body of one repeated letter), and DLP then failed the request closed.
const B64_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-') B64_CHAR[c.charCodeAt(0)] = 1;
const isB64 = (code: number) => code < 128 && B64_CHAR[code] === 1;

/** The length of the line break at `at` (CRLF, LF, JSON's \r\n or \n), 0 when there is none. */
function breakAt(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === 10) return 1;
  if (c === 13) return text.charCodeAt(at + 1) === 10 ? 2 : 0;
  if (c !== 92) return 0; // a backslash
  if (text.startsWith('\\r\\n', at)) return 4;
  return text.startsWith('\\n', at) ? 2 : 0;
}

/** Every base64 run of text: where it starts and its characters, line breaks included. */
export function* base64Runs(text: string): Generator<{ index: number; run: string }> {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isB64(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let end = i;
    while (end < n && isB64(text.charCodeAt(end))) end++;
    if (end - i >= MIN_BASE64_RUN) {
      for (let b = breakAt(text, end); b > 0; b = breakAt(text, end)) {
        let k = end + b;
        const first = k;
        while (k < n && isB64(text.charCodeAt(k))) k++;
        if (k === first) break;
        end = k;
      }
      yield { index: i, run: text.slice(i, end) };
    }
    i = end;
  }
}

/**
 * The bytes of the run decoded from its k-th character on, from the bytes decoded from its start: each
 * character is 6 bits, so they are those bits shifted by 6k (cheaper than decoding the text again).
 */
function shifted(bytes: Uint8Array, k: number, length: number): Uint8Array {
  const offset = (6 * k) >> 3;
  const bits = (6 * k) & 7;
  if (bits === 0) return bytes.subarray(offset, offset + length);
  const out = new Uint8Array(Math.max(0, Math.min(length, bytes.length - offset - 1)));
  for (let j = 0; j < out.length; j++)
    out[j] = ((bytes[offset + j] << bits) | (bytes[offset + j + 1] >> (8 - bits))) & 255;
  return out;
}

/** [from, to) of each stretch of MIN_STRETCH or more printable ASCII bytes (NUL too: UTF-16 text). */
function stretches(bytes: Uint8Array): [number, number][] {
  const found: [number, number][] = [];
  let start = -1;
  for (let b = 0; b <= bytes.length; b++) {
    const c = b < bytes.length ? bytes[b] : -1;
    if (c === 0 || c === 9 || c === 10 || c === 13 || (c >= 32 && c <= 126)) {
      if (start < 0) start = b;
      continue;
    }
    if (start >= 0 && b - start >= MIN_STRETCH) found.push([start, b]);
    start = -1;
  }
  return found;
}

const base64View: Decoder = (text, _form, seen) => {
  const views: Local[] = [];
  for (const m of base64Runs(text)) {
    // After a JSON escape (\n, \t, \r) the escape's letter is no part of the run.
    const escaped = m.index > 0 && text[m.index - 1] === '\\' && 'nrt'.includes(m.run[0]);
    const at = escaped ? m.index + 1 : m.index;
    const run = escaped ? m.run.slice(1) : m.run;
    if (seen.has(run)) continue; // the same run read in another view (a JSON view repeats the text's runs)
    seen.add(run);
    // The alphabet's characters, line breaks dropped, and where each one is in text.
    const broken = /[\r\n\\]/.test(run);
    const chars = broken ? run.replace(/\r|\n|\\[rn]/g, '') : run;
    if (chars.length < MIN_BASE64_RUN) continue;
    let posOf = (i: number) => at + i;
    if (broken) {
      const pos = new Int32Array(chars.length);
      for (let i = 0, j = 0; i < run.length; i++) {
        const c = run[i];
        if (c === '\r' || c === '\n') continue;
        if (c === '\\') {
          i++;
          continue;
        }
        pos[j++] = at + i;
      }
      posOf = (i: number) => pos[i];
    }
    // Where the encoded data may start: the run's start, or after a '/', '+', '_' or '-' inside it
    // (a path segment, a name prefix); blocks of 4 decode alone, so one decoding per alignment suffices.
    const alignments = new Set([0]);
    for (let i = chars.search(/[/+_-]/); i >= 0 && i < chars.length && alignments.size < 4; i++)
      if ('/+_-'.includes(chars[i])) alignments.add((i + 1) % 4);
    // Padded to whole blocks so that no bit is dropped: the shifted alignments need the last ones.
    // Node reads both alphabets
    const aligned = Buffer.from(chars + 'AAA'.slice(0, (4 - (chars.length % 4)) % 4), 'base64');
    for (const k of alignments) {
      const bytes = shifted(aligned, k, Math.floor(((chars.length - k) * 6) / 8));
      const found = stretches(bytes);
      if (found.length === 0) continue;
      // The stretches, a line break between two, each byte mapped to the 4 characters of its block.
      const size = found.reduce((sum, [from, to]) => sum + to - from, found.length - 1);
      const starts = new Int32Array(size);
      const ends = new Int32Array(size);
      const texts: string[] = [];
      let n = 0;
      for (const [from, to] of found) {
        if (n > 0) {
          starts[n] = ends[n] = posOf(k); // the separator: no span of its own
          n++;
          texts.push('\n');
        }
        texts.push(Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1'));
        for (let b = from; b < to; b++, n++) {
          const first = k + ((b / 3) | 0) * 4;
          starts[n] = posOf(first);
          ends[n] = posOf(Math.min(first + 3, chars.length - 1)) + 1;
        }
      }
      views.push({ text: texts.join(''), starts, ends, how: 'base64' });
    }
  }
  return views;
};

// UTF-16 (either byte order, BOM or not) read as UTF-8 or Latin-1 is its ASCII characters with a NUL
// beside each; without the NULs it is what a detector reads (every secret alphabet is ASCII).
const UTF16_TRIGGER = /(?:[^\0]\0){8}|(?:\0[^\0]){8}/;

const utf16View: Decoder = (text) => {
  if (!text.includes('\0') || !UTF16_TRIGGER.test(text)) return [];
  const out = new Builder();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0) out.push(c, i, i + 1);
  }
  return [out.done('utf16')];
};

const DECODERS: readonly Decoder[] = [jsonView, percentView, base64View, utf16View];

/** Every view of text a detector should read: the text itself first, then what decodes out of it. */
export function decodedViews(text: string, options: ReadOptions = {}): Reading {
  const bounds = { ...DEFAULT_BOUNDS, ...options.bounds };
  const budget = bounds.decodedPerChar * text.length + bounds.decodedSlack;
  const views: DecodedView[] = [{ text, how: '', depth: 0 }];
  const seen = new Set<string>();
  let decoded = 0;
  for (let v = 0; v < views.length; v++) {
    const parent = views[v];
    if (parent.depth >= bounds.maxDepth) continue;
    for (const decode of DECODERS) {
      // Only the text itself is a form or a query; what decodes out of it is read as free text.
      for (const local of decode(parent.text, options.form === true && v === 0, seen)) {
        decoded += local.text.length;
        if (decoded > budget) return { views, complete: false, reason: `decoding would exceed ${budget} characters` };
        if (views.length > bounds.maxViews)
          return { views, complete: false, reason: `more than ${bounds.maxViews} encoded parts` };
        views.push(compose(parent, local));
      }
    }
  }
  return { views, complete: true };
}

/** A local view in the original's coordinates. */
function compose(parent: DecodedView, local: Local): DecodedView {
  const how = parent.how ? `${parent.how}>${local.how}` : local.how;
  if (!parent.starts || !parent.ends)
    return { text: local.text, starts: local.starts, ends: local.ends, how, depth: parent.depth + 1 };
  const starts = new Int32Array(local.text.length);
  const ends = new Int32Array(local.text.length);
  const last = parent.text.length - 1;
  for (let i = 0; i < local.text.length; i++) {
    const a = Math.min(local.starts[i], last);
    const b = Math.max(Math.min(local.ends[i], last + 1) - 1, a);
    starts[i] = parent.starts[a];
    ends[i] = local.ends[i] === local.starts[i] ? parent.starts[a] : parent.ends[b];
  }
  return { text: local.text, starts, ends, how, depth: parent.depth + 1 };
}

/** The span of the original text that view.text[start, end) came from. */
export function originalSpan(view: DecodedView, start: number, end: number): { start: number; end: number } {
  if (!view.starts || !view.ends || end <= start) return { start, end };
  let from = Infinity;
  let to = -Infinity;
  for (let i = start; i < end; i++) {
    if (view.ends[i] === view.starts[i]) continue; // a separator the view added
    from = Math.min(from, view.starts[i]);
    to = Math.max(to, view.ends[i]);
  }
  return from === Infinity ? { start: view.starts[start], end: view.starts[start] } : { start: from, end: to };
}
