// `moat chain policy learn`: a policy: section that allows exactly the traffic the ledger saw, for the user to review
// before switching to enforce. From the requests the agent sent (boundary 0): per host, the paths generalised where
// ids vary (path-patterns.ts), the MCP tools called (hops/policy/mcp.ts; bodies must have been recorded), and last a
// rule that denies everything else. Each path rule names the methods seen (`methods:`) and is commented with its
// counts. Requests moat denied, and replays, are left out. Pure: events in, YAML text out, checked to load.
import { stringify } from 'yaml';
import type { MoatEvent } from '../../schemas/generated/event';
import type { PolicyRule } from '../../schemas/generated/chain-config';
import { toolCalls } from '../../hops/policy/mcp';
import { POLICY_HOP } from '../../hops/builtin-hops';
import { parseConfig } from '../config/load';
import { pathPatterns } from './path-patterns';

/** The last rule: anything not seen is denied. */
export const DENY_ALL_ID = 'learned-deny-all';

interface Seen {
  count: number;
  methods: Map<string, number>;
}

interface HostTraffic {
  /** Requests per exact path. */
  paths: Map<string, number>;
  /** Methods per exact path. */
  methods: Map<string, Map<string, number>>;
  /** Blind tunnels (CONNECT to a host outside tls.intercept): the host only. */
  tunnels: number;
  /** MCP tools/call per path: tool -> calls. */
  tools: Map<string, Map<string, number>>;
  ports: Set<number>;
}

export interface LearnedPolicy {
  rules: PolicyRule[];
  /** Rule comments, by rule index: counts and methods. */
  notes: string[];
  /** Requests read, and requests left out (denied by moat, or replays). */
  requests: number;
  leftOut: number;
  /** Request bodies were not recorded (capture.bodies: metadata): no MCP tool could be seen. */
  bodiesMissing: number;
  yaml: string;
}

const bump = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

function methodsOf(m: Map<string, number>): string {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([method, n]) => `${method} ${n}`)
    .join(', ');
}

/** Traces moat refused (a deny decision, or a refusal code at boundary 0): their requests never went out. */
function refusedTraces(events: readonly MoatEvent[]): Set<string> {
  const out = new Set<string>();
  for (const e of events) {
    if (e.decision === 'deny') out.add(e.trace);
    if (e.direction === 'response' && e.boundary === 0 && e.error && /_denied$|^dlp_blocked$/.test(e.error))
      out.add(e.trace);
  }
  return out;
}

export function learnPolicy(events: readonly MoatEvent[], what: string): LearnedPolicy {
  const refused = refusedTraces(events);
  const hosts = new Map<string, HostTraffic>();
  let requests = 0;
  let leftOut = 0;
  let bodiesMissing = 0;
  for (const e of events) {
    if (e.direction !== 'request' || e.boundary !== 0 || !e.host) continue;
    requests++;
    if (refused.has(e.trace) || e.replay_of) {
      leftOut++;
      continue;
    }
    let h = hosts.get(e.host);
    if (!h) {
      h = { paths: new Map(), methods: new Map(), tunnels: 0, tools: new Map(), ports: new Set() };
      hosts.set(e.host, h);
    }
    if (e.port) h.ports.add(e.port);
    if (e.method === 'CONNECT' || e.intercepted === false) {
      h.tunnels++;
      continue;
    }
    const path = e.path || '/';
    bump(h.paths, path);
    if (!h.methods.has(path)) h.methods.set(path, new Map());
    bump(h.methods.get(path)!, e.method ?? 'GET');
    if ((e.body_size ?? 0) > 0 && e.body === undefined) bodiesMissing++;
    const calls = e.body ? toolCalls(e.body) : [];
    if (calls.length) {
      if (!h.tools.has(path)) h.tools.set(path, new Map());
      for (const c of calls) bump(h.tools.get(path)!, c.tool);
    }
  }

  const rules: PolicyRule[] = [];
  const notes: string[] = [];
  const toolRules: PolicyRule[] = [];
  const toolNotes: string[] = [];
  for (const host of [...hosts.keys()].sort()) {
    const h = hosts.get(host)!;
    const ports = [...h.ports].filter((p) => p !== 443 && p !== 80);
    const portNote = ports.length ? ` (port ${ports.join(', ')}: rules do not name ports)` : '';
    if (h.tunnels > 0 && h.paths.size === 0) {
      rules.push({ match: `${host}/*`, action: 'allow' });
      notes.push(`${h.tunnels} blind tunnel(s) to ${host}: moat saw the host only${portNote}`);
      continue;
    }
    for (const p of pathPatterns(h.paths)) {
      const seen: Seen = { count: p.count, methods: new Map() };
      const tools = new Map<string, number>();
      for (const [path, methods] of h.methods) {
        if (!covers(p.pattern, path)) continue;
        for (const [m, c] of methods) bump(seen.methods, m, c);
        for (const [t, c] of h.tools.get(path) ?? []) bump(tools, t, c);
      }
      const match = `${host}${p.pattern}`;
      const distinct = p.paths > 1 ? `, ${p.paths} distinct paths` : '';
      for (const tool of [...tools.keys()].sort()) {
        toolRules.push({ match, tool, action: 'allow' });
        toolNotes.push(`MCP tool ${tool}: ${tools.get(tool)} call(s)`);
      }
      if (tools.size) {
        toolRules.push({ match, tool: '*', action: 'deny', reason: 'an MCP tool not seen while learning' });
        toolNotes.push(`any other MCP tool on ${match}`);
      }
      rules.push({ match, methods: [...seen.methods.keys()].sort() as [string, ...string[]], action: 'allow' });
      notes.push(`${seen.count} request(s)${distinct}: ${methodsOf(seen.methods)}${portNote}`);
    }
    if (h.tunnels > 0) {
      rules.push({ match: `${host}/*`, action: 'allow' });
      notes.push(`${h.tunnels} blind tunnel(s) to ${host}: moat saw the host only`);
    }
  }
  // Numbered in their final order, tool rules first.
  const all = [...toolRules, ...rules].map((r, i) => ({ id: `learned-${i + 1}`, ...r }));
  const allNotes = [...toolNotes, ...notes];
  all.push({
    id: DENY_ALL_ID,
    match: '*',
    action: 'deny',
    reason: 'not seen while learning (moat chain policy learn)',
  });
  allNotes.push('everything else');
  const yaml = render(all, allNotes, { what, requests, leftOut, bodiesMissing });
  // What comes out must load as moat.yaml's policy: section does, so the user never pastes an invalid one.
  parseConfig(`proxies: [${POLICY_HOP}]\n${yaml}`, 'moat chain policy learn (output)');
  return { rules: all, notes: allNotes, requests, leftOut, bodiesMissing, yaml };
}

/** Whether a generalised pattern (literal segments, `*` for one) covers a path. */
export function covers(pattern: string, path: string): boolean {
  const a = pattern.split('/');
  const b = (path.startsWith('/') ? path : `/${path}`).split('/');
  return a.length === b.length && a.every((seg, i) => seg === '*' || seg === b[i]);
}

function render(
  rules: readonly PolicyRule[],
  notes: readonly string[],
  c: { what: string; requests: number; leftOut: number; bodiesMissing: number },
): string {
  const head = [
    `# policy: learned by moat chain policy learn from ${c.requests} request(s) in the ledger ${c.what}.`,
    `# Review before use: every rule allows a host and path pattern with the methods seen (* is one varying`,
    `# id, but a glob * also matches across /), and the last rule denies everything else. Keep your other`,
    `# policy: keys (dlp, limits) when you paste it.`,
  ];
  if (c.leftOut) head.push(`# Left out: ${c.leftOut} request(s) moat denied, and replays.`);
  if (c.bodiesMissing)
    head.push(
      `# ${c.bodiesMissing} request body(ies) were not recorded (capture.bodies: metadata): MCP tool calls in them` +
        ` could not be seen; record bodies (redacted) while learning to get tool rules.`,
    );
  const lines = [...head, 'policy:', '  mode: enforce', '  rules:'];
  rules.forEach((r, i) => {
    lines.push(`    # ${notes[i]}`);
    const body = stringify([r], { lineWidth: 0 }).trimEnd().split('\n');
    lines.push(...body.map((l) => `    ${l}`));
  });
  return lines.join('\n') + '\n';
}
