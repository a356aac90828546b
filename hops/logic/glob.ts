// Globs for policy matches and host allow-lists: `*` matches any run of characters
// (including dots and slashes), `?` one character; matching ignores case.
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    re = new RegExp(`^${globSource(glob)}$`, 'i');
    cache.set(glob, re);
  }
  return re;
}

/** The regular expression source of a glob, unanchored (also handed to proxies that take patterns). */
export function globSource(glob: string): string {
  return glob
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
    .join('');
}

export function globMatch(glob: string, text: string): boolean {
  return globToRegExp(glob).test(text);
}
