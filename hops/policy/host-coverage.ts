// How much of a host's traffic a rule's match glob (over host/path) covers, for a blind tunnel,
// which shows the host and nothing else. Pure.

/** all: every request to the host matches; some: only some paths would; none: no request to it can. */
export type Coverage = 'all' | 'some' | 'none';

/**
 * Runs the glob over `host/` and looks at what is left of it: nothing alive means no path can match;
 * a remainder made of `*` only matches every path; anything else depends on the path.
 */
export function hostCoverage(glob: string, host: string): Coverage {
  const g = glob.toLowerCase();
  // A `*` also matches nothing, so a position on one reaches the next position too.
  const close = (states: Set<number>): Set<number> => {
    for (const i of [...states]) for (let j = i; j < g.length && g[j] === '*'; j++) states.add(j + 1);
    return states;
  };
  let live = close(new Set([0]));
  for (const c of `${host.toLowerCase()}/`) {
    const next = new Set<number>();
    for (const i of live) {
      if (i >= g.length) continue;
      if (g[i] === '*') next.add(i);
      else if (g[i] === '?' || g[i] === c) next.add(i + 1);
    }
    live = close(next);
    if (live.size === 0) return 'none';
  }
  // Nothing left covers only the root path ("host/"), so it takes at least one `*`.
  return [...live].some((i) => /^\*+$/.test(g.slice(i))) ? 'all' : 'some';
}
