// Mutates a YAML text the ways a hand-edited file goes wrong: characters deleted, doubled or
// swapped, values of another type, keys dropped or doubled, lines swapped, indentation off,
// unicode where ASCII was, a file cut short. Seeded, so a failing mutant can be made again.
import { SeededRandom } from './seeded-random';

// Zero-width space, BOM, NUL, right-to-left override, a non-BMP character, combining accent, NBSP, line separator.
const UNICODE = [
  'é',
  '€',
  '\u200b',
  '\ufeff',
  '\u0000',
  '\u202e',
  '𝄞',
  'e\u0301',
  '\u00a0',
  '\u2028',
  '😀',
  '\t',
  '\r',
  'ı',
];
// Values of every YAML type, and the strange corners (anchors, tags, merge keys, huge numbers).
const VALUES = [
  '[]',
  '{}',
  '0',
  '-1',
  '65536',
  '1.5',
  '1e400',
  '0x10',
  'true',
  'null',
  '~',
  '""',
  "''",
  '"x"',
  '[1, [2]]',
  '{a: {b: c}}',
  '!!binary aGk=',
  '*nowhere',
  '&a x',
  '<<: {x: 1}',
  '2001-01-01',
  '.inf',
  '.nan',
  '|',
  '>-',
  '!!str',
  '? complex',
  '- item',
  '"\\u0000"',
  "'unterminated",
  '@reserved',
  '`tick',
];

export interface Mutation {
  kind: string;
  text: string;
}

type Op = (text: string, rng: SeededRandom) => string;

const lineStarts = (text: string) =>
  [0, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)].filter((i) => i < text.length);

const OPS: Record<string, Op> = {
  'delete a character': (t, r) => {
    const at = r.int(0, t.length - 1);
    return t.slice(0, at) + t.slice(at + 1);
  },
  'double a character': (t, r) => {
    const at = r.int(0, t.length - 1);
    return t.slice(0, at + 1) + t.slice(at);
  },
  'swap two characters': (t, r) => {
    const at = r.int(0, t.length - 2);
    return t.slice(0, at) + t[at + 1] + t[at] + t.slice(at + 2);
  },
  'insert unicode': (t, r) => {
    const at = r.int(0, t.length);
    return t.slice(0, at) + r.pick(UNICODE) + t.slice(at);
  },
  'cut short': (t, r) => t.slice(0, r.int(0, t.length - 1)),
  'value of another type': (t, r) => {
    // A "key: value" on one line, its value replaced.
    const pairs = [...t.matchAll(/^(\s*(?:- )?[^\s#:][^:\n]*:)[ \t]+([^\n]+)$/gm)];
    if (pairs.length === 0) return t;
    const m = r.pick(pairs);
    return t.slice(0, m.index!) + `${m[1]} ${r.pick(VALUES)}` + t.slice(m.index! + m[0].length);
  },
  'list item of another type': (t, r) => {
    const items = [...t.matchAll(/^(\s*- )([^\n]+)$/gm)];
    if (items.length === 0) return t;
    const m = r.pick(items);
    return t.slice(0, m.index!) + `${m[1]}${r.pick(VALUES)}` + t.slice(m.index! + m[0].length);
  },
  'drop a line': (t, r) => {
    const lines = t.split('\n');
    lines.splice(r.int(0, lines.length - 1), 1);
    return lines.join('\n');
  },
  'double a line': (t, r) => {
    const lines = t.split('\n');
    const at = r.int(0, lines.length - 1);
    lines.splice(at, 0, lines[at]);
    return lines.join('\n');
  },
  'swap two lines': (t, r) => {
    const lines = t.split('\n');
    const a = r.int(0, lines.length - 1);
    const b = r.int(0, lines.length - 1);
    [lines[a], lines[b]] = [lines[b], lines[a]];
    return lines.join('\n');
  },
  'indent wrong': (t, r) => {
    const at = r.pick(lineStarts(t));
    const line = t.slice(at);
    if (r.next() < 0.5 && /^ +/.test(line)) return t.slice(0, at) + line.replace(/^ {1,2}/, '');
    return t.slice(0, at) + ' '.repeat(r.int(1, 3)) + line;
  },
  'tab indent': (t, r) => {
    const at = r.pick(lineStarts(t));
    return t.slice(0, at) + '\t' + t.slice(at);
  },
  'drop a key with its block': (t, r) => {
    const lines = t.split('\n');
    const keys = lines.map((l, i) => (/^\s*[A-Za-z_"][^:]*:/.test(l) ? i : -1)).filter((i) => i >= 0);
    if (keys.length === 0) return t;
    const at = r.pick(keys);
    const indent = /^\s*/.exec(lines[at])![0].length;
    let end = at + 1;
    while (end < lines.length && (lines[end].trim() === '' || /^\s*/.exec(lines[end])![0].length > indent)) end++;
    lines.splice(at, end - at);
    return lines.join('\n');
  },
};

export const MUTATION_KINDS = Object.keys(OPS);

/** One mutant: 1 to 3 mutations of `text`, each named in `kind`. */
export function mutate(text: string, rng: SeededRandom): Mutation {
  let out = text;
  const kinds: string[] = [];
  for (let i = rng.int(1, 3); i > 0 && out.length > 1; i--) {
    const kind = rng.pick(MUTATION_KINDS);
    out = OPS[kind](out, rng);
    kinds.push(kind);
  }
  return { kind: kinds.join(' + '), text: out };
}
