// How much of a host's traffic a rule's match glob (over host/path) covers, for a blind tunnel,
// which shows the host and nothing else. Pure.

import { globMatch } from '../logic/glob';

/** all: every request to the host matches; some: only some paths would; none: no request to it can. */
export type Coverage = 'all' | 'some' | 'none';

/**
 * Runs the glob over `host/` and looks at what is left of it: nothing alive means no path can match;
 * a remainder made of `*` only matches every path; anything else depends on the path.
 */
export function hostCoverage(glob: string, host: string): Coverage {
  const g = glob.toLowerCase();
  // A rule whose glob names a host (before its first '/') decides a tunnel only to a host that part matches: its `*`
  // may not reach into a path. (`*.internal.example.com/*` used to cover "some" of every host, since a path can
  // hold ".internal.example.com/", and so failed every blind tunnel closed.) A glob without '/' is read as a whole.
  const slash = g.indexOf('/');
  if (slash >= 0 && !globMatch(g.slice(0, slash), host)) return 'none';
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
