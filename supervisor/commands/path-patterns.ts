// `moat chain policy learn`: the paths one host was asked for, generalised where ids vary. The rule: at one place in
// the path (the same segments before it), when 3 or more distinct values that look like ids were seen, they become
// `*`, and what followed each of them is merged (so /v1/threads/abc123/runs, /v1/threads/def456/runs and
// /v1/threads/0a1b2c/runs are /v1/threads/*/runs). Segments that do not look like ids (`messages`, `v1`) stay as
// they were, however many there are: a path the agent never asked for is not allowed by accident. Pure.

/** A path segment that looks like an id: a number, or 6+ characters of an id's alphabet with a digit (abc123, a UUID,
 * msg_01XyZ, 2024-01-31). */
export function looksLikeId(segment: string): boolean {
  if (/^\d+$/.test(segment)) return true;
  return segment.length >= 6 && /^[A-Za-z0-9_.~=-]+$/.test(segment) && /\d/.test(segment);
}

/** How many distinct id-like values at one place make it `*`. */
export const MIN_DISTINCT_IDS = 3;

export interface PathPattern {
  /** `/v1/threads/*\/runs`: literal segments and `*` for one generalised segment. */
  pattern: string;
  /** Requests it covers. */
  count: number;
  /** Distinct paths it covers. */
  paths: number;
}

interface Node {
  children: Map<string, Node>;
  /** Requests whose path ends here. */
  ends: number;
  /** Distinct paths ending here. */
  endPaths: number;
}

const node = (): Node => ({ children: new Map(), ends: 0, endPaths: 0 });

function merge(into: Node, from: Node): void {
  into.ends += from.ends;
  into.endPaths += from.endPaths;
  for (const [seg, child] of from.children) {
    const mine = into.children.get(seg);
    if (mine) merge(mine, child);
    else into.children.set(seg, child);
  }
}

function generalise(n: Node): void {
  const ids = [...n.children.keys()].filter((s) => s !== '*' && s !== '' && looksLikeId(s));
  if (ids.length >= MIN_DISTINCT_IDS) {
    const star = n.children.get('*') ?? node();
    for (const id of ids) {
      merge(star, n.children.get(id)!);
      n.children.delete(id);
    }
    n.children.set('*', star);
  }
  for (const child of n.children.values()) generalise(child);
}

function collect(n: Node, prefix: string[], out: PathPattern[]): void {
  if (n.ends > 0) out.push({ pattern: `/${prefix.join('/')}`, count: n.ends, paths: n.endPaths });
  for (const [seg, child] of n.children) collect(child, [...prefix, seg], out);
}

/** The paths seen (with how many requests each), generalised; sorted by pattern. */
export function pathPatterns(paths: ReadonlyMap<string, number>): PathPattern[] {
  const root = node();
  for (const [path, count] of paths) {
    let at = root;
    // "/v1/x/" keeps its last, empty segment: a rule for /v1/x would not match it.
    for (const seg of (path.startsWith('/') ? path : `/${path}`).split('/').slice(1)) {
      if (!at.children.has(seg)) at.children.set(seg, node());
      at = at.children.get(seg)!;
    }
    at.ends += count;
    at.endPaths += 1;
  }
  generalise(root);
  const out: PathPattern[] = [];
  collect(root, [], out);
  return out.sort((a, b) => (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
}
