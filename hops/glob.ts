// Globs for policy matches and host allow-lists: `*` matches any run of characters
// (including dots and slashes), `?` one character; matching ignores case.
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    const body = glob
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`, 'i');
    cache.set(glob, re);
  }
  return re;
}

export function globMatch(glob: string, text: string): boolean {
  return globToRegExp(glob).test(text);
}
