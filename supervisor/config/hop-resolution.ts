// Turns moat.yaml's proxies list into hops the planner can use: built-in names stay names;
// a manifest name or {use: ...} becomes the manifest's launch recipe with this chain's
// overrides (name, scope, env and files); a long form is taken as written. Then checks what only the whole list shows.
import type { CommandHop, ManifestHop, Scope } from '../../schemas/generated/chain-config';
import type { HopManifest } from '../../schemas/generated/hop-manifest';
import { BUILTIN_HOP_NAMES, isBuiltinHop } from '../../hops/builtin-hops';
import { MoatError } from '../errors';
import { closest } from './did-you-mean';
import { findManifest, manifestNames } from './manifests';
import type { JsonPath } from './schema-check';

/** A third-party hop ready to plan: the long form, with what its manifest adds. */
export interface ThirdPartyHop extends CommandHop {
  kind: 'forward' | 'base_url';
  tls: 'tunnel' | 'plain';
  env: Record<string, string>;
  files: Record<string, string>;
  listens_on_all_interfaces: boolean;
  dials_directly: boolean;
  /** It enforces policy: replay --skip-hop and bisect never skip it (supervisor/chain/skip-hop.ts). */
  policy: boolean;
  /** netns: the hop runs in network namespaces of its own whose only way out is its next link. */
  isolation: 'none' | 'netns';
  /** The manifest it came from (a path), when it came from one. */
  manifest?: string;
  /** How to install it, from the manifest: shown when the binary is missing. */
  install?: string;
  changes?: HopManifest['changes'];
}

type Where = (path: JsonPath) => string;

/**
 * Every third-party hop runs in network namespaces of its own unless it says `isolation: none`: its port can then
 * be reached only through moat's entrance (from the link in front of it), and what it sends goes only to the next link.
 */
export const DEFAULT_ISOLATION = 'netns';

export function resolveHops(entries: (string | ManifestHop | CommandHop)[], where: Where): (string | ThirdPartyHop)[] {
  const messages: string[] = [];
  const hops = entries.map((entry, i): string | ThirdPartyHop => {
    const at = `${where(['proxies', i])}: proxies[${i}]`;
    if (typeof entry === 'string') {
      if (isBuiltinHop(entry)) return entry;
      const found = findManifest(entry);
      if (found) return fromManifest(found.manifest, found.file, {});
      const known = [...BUILTIN_HOP_NAMES, ...manifestNames()];
      const hint = closest(entry, known);
      // JSON quoting: a name from a block scalar may hold newlines, and each line of an error must start with its
      // place.
      messages.push(
        `${at}: unknown hop ${JSON.stringify(entry)}${hint ? ` (did you mean "${hint}"?)` : ''} (known: ` +
          `${known.join(', ')}; any other proxy needs the long form {name, command})`,
      );
      return entry;
    }
    if ('use' in entry) {
      const found = findManifest(entry.use);
      if (!found) {
        const hint = closest(entry.use, manifestNames());
        messages.push(
          `${where(['proxies', i, 'use'])}: proxies[${i}].use: no manifest ${JSON.stringify(entry.use)} ` +
            `in contrib-proxies/${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
        return entry.use;
      }
      return fromManifest(found.manifest, found.file, entry);
    }
    return {
      ...entry,
      kind: entry.kind ?? 'forward',
      tls: entry.tls ?? 'tunnel',
      env: entry.env ?? {},
      files: entry.files ?? {},
      listens_on_all_interfaces: entry.listens_on_all_interfaces ?? false,
      dials_directly: entry.dials_directly ?? false,
      policy: entry.policy ?? false,
      isolation: entry.isolation ?? DEFAULT_ISOLATION,
    };
  });
  if (messages.length === 0) messages.push(...checkPlacement(hops, where));
  if (messages.length > 0) throw new MoatError('MOAT_ERR_UNKNOWN_HOP', messages.join('\n'));
  return hops;
}

function fromManifest(m: HopManifest, file: string, own: Partial<ManifestHop>): ThirdPartyHop {
  return {
    name: own.name ?? m.name,
    command: [...m.command],
    kind: m.kind,
    tls: own.tls ?? m.tls ?? 'tunnel',
    env: { ...(m.env ?? {}), ...(own.env ?? {}) },
    files: { ...(m.files ?? {}), ...(own.files ?? {}) },
    ...(m.trust_ca ? { trust_ca: m.trust_ca } : {}),
    ...((own.scope ?? m.scope) ? { scope: own.scope ?? (m.scope as Scope) } : {}),
    listens_on_all_interfaces: m.listens_on_all_interfaces ?? false,
    dials_directly: m.dials_directly ?? false,
    policy: own.policy ?? m.policy ?? false,
    isolation: own.isolation ?? DEFAULT_ISOLATION,
    manifest: file,
    install: m.install,
    ...(m.changes ? { changes: m.changes } : {}),
  };
}

/** Placeholders whose value holds the next link's credential: allowed in env: and files:, never on a command line. */
export const CREDENTIAL_PLACEHOLDERS = ['{upstream}', '{upstream_auth}', '{upstream_base}'];

/** Rules about where a hop may stand, names that must be unique, and no credential on a command line. */
function checkPlacement(hops: (string | ThirdPartyHop)[], where: Where): string[] {
  const messages: string[] = [];
  const seen = new Map<string, number>();
  hops.forEach((hop, i) => {
    const name = typeof hop === 'string' ? hop : hop.name;
    const at = `${where(['proxies', i])}: proxies[${i}]`;
    if (seen.has(name))
      messages.push(
        `${at}: "${name}" is already hop ${seen.get(name)! + 1}; hop names must be unique (give one a name of its own)`,
      );
    // The link in front of a third-party hop is the process `<n>-link`: a hop of that name would share its id (its
    // spec, log, pm2 name and credential file).
    if (typeof hop !== 'string' && hop.name.replace(/[^A-Za-z0-9._-]/g, '_') === 'link')
      messages.push(
        `${at}: the name "link" is moat's own (the process in front of each third-party hop); give this ` +
          `hop another name`,
      );
    seen.set(name, i);
    if (typeof hop === 'string') return;
    hop.command.forEach((arg, j) => {
      const secret = CREDENTIAL_PLACEHOLDERS.find((p) => arg.includes(p));
      if (!secret) return;
      const place = hop.manifest
        ? `${at} (command of ${hop.manifest})`
        : `${where(['proxies', i, 'command', j])}: proxies[${i}].command[${j}]`;
      messages.push(
        `${place}: ${secret} holds the next link's credential, and a command line is readable by every ` +
          `local user; put it in env: or in a file under files:`,
      );
    });
    for (const file of Object.keys(hop.files)) {
      if (file.startsWith('/') || file.split('/').includes('..'))
        messages.push(
          `${at}: files: ${JSON.stringify(file)} must be a path inside the hop's directory (relative, without ..)`,
        );
    }
    if (hop.kind === 'base_url' && hop.tls === 'plain') {
      messages.push(`${at}: "${name}" is a base_url hop, which always gets plain HTTP; tls: plain is for forward hops`);
    }
    if (hop.kind === 'base_url' && !hop.scope) {
      messages.push(`${at}: "${name}" is a base_url hop and needs a scope (the hosts and paths it serves)`);
    }
    if (hop.dials_directly && hop.isolation === 'netns' && hop.tls === 'plain') {
      messages.push(
        `${at}: "${name}" connects to destinations itself: with isolation: netns and tls: plain it would ` +
          `send what was HTTPS on as plain HTTP; use tls: tunnel`,
      );
    }
    if (bypassesEgress(hop) && i !== hops.length - 1) {
      messages.push(
        `${at}: "${name}" connects to destinations itself (it has no upstream setting), so with ` +
          `isolation: none it can only be the last hop ` +
          `before egress; it is hop ${i + 1} of ${hops.length}. Remove \`isolation: none\` (its ` +
          `connections then go into the next link; Linux) or move it to the end of proxies:`,
      );
    }
  });
  return messages;
}

/**
 * A hop whose connections leave without passing the rest of the chain: it dials destinations itself and is not
 * isolated. In a network namespace (isolation: netns) its connections go into the next link like any other hop's.
 */
export function bypassesEgress(hop: string | ThirdPartyHop): boolean {
  return typeof hop === 'object' && hop.dials_directly && hop.isolation !== 'netns';
}
