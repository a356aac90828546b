// PEM private keys (RSA, EC, DSA, OPENSSH, ENCRYPTED, PKCS#8, PGP): the block from its
// BEGIN line through its END line. Keys often travel inside JSON strings, with `\n` escapes
// for line breaks. A block with no END in reach (a cut body) is covered to the end of the
// text or PEM_MAX_CHARS, whichever comes first: better too much masked than a key's tail kept.
import type { Candidate } from './match';

/** Longer than any PEM private key (an 8192-bit RSA key is about 6.5 KB, escaped). */
export const PEM_MAX_CHARS = 16384;

const KIND = String.raw`(?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?`;
const BEGIN = new RegExp(String.raw`-----BEGIN ${KIND}-----`, 'g');
const END = new RegExp(String.raw`-----END ${KIND}-----`);

// What must follow BEGIN for the block to be a key rather than a mention of one: a line
// break (real or escaped), optional headers (Proc-Type, DEK-Info, Version, ...), base64.
const BREAK = String.raw`(?:\s|\\[rn]){1,8}`;
const KEY_BODY = new RegExp(
  String.raw`${BREAK}(?:[A-Za-z-]{1,20}:[^\r\n\\]{0,200}${BREAK}){0,4}[A-Za-z0-9+/]{16}`,
  'y',
);

// Placeholders are judged on the first line of base64 only: a long random body would hold a
// stand-in word by chance now and then, while a docs example shows "..." early.
const FIRST_LINE = 80;

export function pemPrivateKey(text: string): Candidate[] {
  const found: Candidate[] = [];
  BEGIN.lastIndex = 0;
  for (let begin = BEGIN.exec(text); begin; begin = BEGIN.exec(text)) {
    const start = begin.index;
    const headerEnd = BEGIN.lastIndex;
    KEY_BODY.lastIndex = headerEnd;
    if (!KEY_BODY.test(text)) continue;
    const reach = text.slice(headerEnd, Math.min(text.length, start + PEM_MAX_CHARS));
    const end = END.exec(reach);
    const stop = end ? headerEnd + end.index + end[0].length : headerEnd + reach.length;
    found.push({ start, end: stop, value: text.slice(headerEnd, headerEnd + FIRST_LINE) });
    BEGIN.lastIndex = stop;
  }
  return found;
}
