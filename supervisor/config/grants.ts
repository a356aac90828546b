// grants: in moat.yaml: which credentials egress adds, where the real keys come from, and the
// placeholders everything else holds. The supervisor reads each key from its own environment
// at `plan`/`up`, else from the grant store (supervisor/grants/store.ts); the key goes to egress
// alone, sealed in a 0600 file only egress's spec names (never into its environment, a plan, a
// spec file or a hop). The agent and every third-party hop get a placeholder in the same variable:
// format-valid (the prefix and length SDKs check), derived from the chain token (so new at every
// `up`, fixed for `plan`), and never containing a real key.
import { createHmac } from 'node:crypto';
import type { GenericGrant } from '../../schemas/generated/chain-config';
import type { ResolvedConfig } from './types';
import type { JsonPath } from './schema-check';
import type { PlannedProcess, SectionPlanFields, SectionWiringInputs } from '../chain/plan-types';
import { MoatError } from '../errors';
import { closest } from './did-you-mean';
import { CREDENTIAL_HEADERS } from '../../hops/events/redact';
import type { CredentialSlot, EgressGrant } from '../../hops/logic/credentials';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BASE64URL = `${ALNUM}-_`;

/** A placeholder is prefix + `length` characters of `alphabet` + suffix. */
interface PlaceholderShape {
  prefix: string;
  alphabet: string;
  length: number;
  suffix: string;
}

/** A grant as the supervisor knows it, built-in or generic. */
export interface GrantDef {
  name: string;
  host: string;
  header: string;
  format: string;
  also: CredentialSlot[];
  query?: string;
  /** Variables the agent and hops get the placeholder in; the key is read from the first one set. */
  env: string[];
  /** The shape of the placeholder; generic grants size theirs by the real key. */
  shape(key?: string): PlaceholderShape;
}

/** The built-in grants, with the shapes of the providers' real keys. */
export const BUILTIN_GRANTS: Record<string, GrantDef> = {
  anthropic: {
    name: 'anthropic',
    host: 'api.anthropic.com',
    header: 'x-api-key',
    format: '{key}',
    also: [{ header: 'authorization', format: 'Bearer {key}' }],
    env: ['ANTHROPIC_API_KEY'],
    // sk-ant-api03- + 93 base64url characters + AA: 108 characters, like a real key.
    shape: () => ({ prefix: 'sk-ant-api03-', alphabet: BASE64URL, length: 93, suffix: 'AA' }),
  },
  openai: {
    name: 'openai',
    host: 'api.openai.com',
    header: 'authorization',
    format: 'Bearer {key}',
    also: [],
    env: ['OPENAI_API_KEY'],
    // sk- + 48 letters and digits: the classic key shape every OpenAI client accepts.
    shape: () => ({ prefix: 'sk-', alphabet: ALNUM, length: 48, suffix: '' }),
  },
  gemini: {
    name: 'gemini',
    host: 'generativelanguage.googleapis.com',
    header: 'x-goog-api-key',
    format: '{key}',
    also: [],
    query: 'key',
    env: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
    // AIza + 35 characters: 39, a Google API key.
    shape: () => ({ prefix: 'AIza', alphabet: BASE64URL, length: 35, suffix: '' }),
  },
};

/** Variables moat sets itself: a grant may not claim them. */
const RESERVED_ENV = new Set([
  'PATH',
  'HOME',
  'LANG',
  'NODE_ENV',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'NODE_EXTRA_CA_CERTS',
  'MOAT_HOME',
]);

function genericDef(g: GenericGrant): GrantDef {
  const prefix = g.prefix ?? '';
  return {
    name: g.host,
    host: g.host.toLowerCase(),
    header: g.header.toLowerCase(),
    format: g.format ?? '{key}',
    also: [],
    env: [g.env],
    // As long as the real key (40 without one), at least 16 random characters after the prefix.
    shape: (key) => ({
      prefix,
      alphabet: ALNUM,
      length: Math.max((key?.length ?? 40) - prefix.length, 16),
      suffix: '',
    }),
  };
}

export function grantDefs(config: Pick<ResolvedConfig, 'grants'>): GrantDef[] {
  return (config.grants ?? []).map((g) => (typeof g === 'string' ? BUILTIN_GRANTS[g] : genericDef(g)));
}

/** Config-time checks the schema cannot express; every problem at file:line:column. */
export function checkGrants(config: Pick<ResolvedConfig, 'grants'>, where: (path: JsonPath) => string): void {
  const messages: string[] = [];
  const hosts = new Map<string, number>();
  const vars = new Map<string, number>();
  (config.grants ?? []).forEach((entry, i) => {
    const at = `${where(['grants', i])}: grants[${i}]`;
    if (typeof entry === 'string' && !BUILTIN_GRANTS[entry]) {
      const known = Object.keys(BUILTIN_GRANTS);
      const hint = closest(entry, known);
      messages.push(
        `${at}: unknown grant ${JSON.stringify(entry)}${hint ? ` (did you mean "${hint}"?)` : ''} (known: ` +
          `${known.join(', ')}; any other API needs the form {host, header, format, env})`,
      );
      return;
    }
    const def = typeof entry === 'string' ? BUILTIN_GRANTS[entry] : genericDef(entry);
    if (hosts.has(def.host))
      messages.push(
        `${at}: host ${def.host} is already granted by grants[${hosts.get(def.host)}]; one credential per host`,
      );
    else hosts.set(def.host, i);
    for (const v of def.env) {
      if (RESERVED_ENV.has(v.toUpperCase()))
        messages.push(`${at}: env ${v} is set by moat itself; name the variable your client reads the key from`);
      else if (vars.has(v)) messages.push(`${at}: env ${v} already holds the placeholder of grants[${vars.get(v)}]`);
      else vars.set(v, i);
    }
  });
  if (messages.length > 0) throw new MoatError('MOAT_ERR_GRANT_INVALID', messages.join('\n'));
}

/**
 * Egress adds a granted key to requests that carry none, so with grants every hop is a way to spend the key:
 * a hop that other machines can reach (it listens on every interface) would let them. Refused, not warned.
 */
export function checkExposedHops(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  if (!config.grants?.length) return;
  const messages = config.proxies.flatMap((hop, i) =>
    // Isolated, "every interface" is its namespace's loopback, reached only through moat's wrapper on 127.0.0.1.
    typeof hop !== 'string' && hop.listens_on_all_interfaces && hop.isolation !== 'netns'
      ? [
          `${where(['proxies', i])}: proxies[${i}]: "${hop.name}" listens on every network interface, and with ` +
            `grants: egress adds your key to what it forwards, so other machines could spend it; remove grants: or ` +
            `this hop`,
        ]
      : [],
  );
  if (messages.length) throw new MoatError('MOAT_ERR_GRANT_INVALID', messages.join('\n'));
}

/**
 * The real key of every grant (in config order), from the environment `plan`/`up` runs in.
 * `placeholders` are those of a previous `up`: a shell that ran `eval "$(moat chain env)"`
 * holds them, and egress must not be handed one as if it were a key.
 */
export function readGrantKeys(
  config: Pick<ResolvedConfig, 'grants'>,
  where: (path: JsonPath) => string,
  env: NodeJS.ProcessEnv,
  placeholders: readonly string[] = [],
  stored: (def: GrantDef) => { key: string; from: string } | undefined = () => undefined,
): string[] {
  const problems: string[] = [];
  const keys = grantDefs(config).map((def, i) => {
    const at = `${where(['grants', i])}: grants[${i}] (${def.name})`;
    // The environment wins; else the grant store (`moat grant add`), asked only for a key the environment lacks.
    const inEnv = def.env.find((v) => env[v]);
    const fromStore = inEnv ? undefined : stored(def);
    const found = inEnv ?? fromStore?.from;
    if (!found) {
      problems.push(
        `${at}: ${def.env.join(' or ')} is not set and the grant store has no key for ${def.host}; store it with ` +
          `\`moat grant add ${BUILTIN_GRANTS[def.name] ? def.name : `NAME --host ${def.host} --header ${def.header}`}\`` +
          ` or export it in the environment of \`moat chain up\` (only egress receives it; the agent and hops get ` +
          `a placeholder)`,
      );
      return '';
    }
    const key = inEnv ? env[inEnv]! : fromStore!.key;
    if (!/^[\x21-\x7e]+$/.test(key))
      problems.push(`${at}: ${found} holds spaces or control characters; a key is one word of printable characters`);
    else if (placeholders.includes(key))
      problems.push(
        `${at}: ${found} holds a moat placeholder (from \`moat chain env\`), not the real key; start the ` +
          `chain from an environment with the real key`,
      );
    return key;
  });
  if (problems.length > 0) throw new MoatError('MOAT_ERR_GRANT_KEY', problems.join('\n'));
  return keys;
}

/** `length` characters of `alphabet`, from HMAC-SHA256(seed, label). */
function filler(alphabet: string, length: number, seed: string, label: string): string {
  let out = '';
  for (let block = 0; out.length < length; block++) {
    for (const byte of createHmac('sha256', seed).update(`${label}/${block}`).digest()) {
      if (out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** A placeholder of the grant's shape that contains none of the real keys. */
export function placeholderFor(def: GrantDef, index: number, seed: string, keys: readonly string[] = []): string {
  const shape = def.shape(keys[index] || undefined);
  const real = keys.filter(Boolean);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const p =
      shape.prefix + filler(shape.alphabet, shape.length, seed, `grant/${index}/${def.name}/${attempt}`) + shape.suffix;
    if (!real.some((k) => p.includes(k))) return p;
  }
  throw new MoatError(
    'MOAT_ERR_GRANT_KEY',
    `grants[${index}] (${def.name}): the key is too short to be told apart from a placeholder`,
  );
}

/** What egress is told about grant i: everything but the key, which it finds in this variable. */
export function keyEnvName(index: number): string {
  return `MOAT_GRANT_${index}`;
}

/**
 * Wires the grants into a plan (called by buildPlan): egress gets the grants (not the keys),
 * every third-party hop the placeholders (over its own env of the same names), every recording
 * process the generic grants' headers to redact and, when it captures bodies, the placeholders
 * to leave unmasked. Returns the placeholders for the agent.
 */
export function wireGrants(
  config: Pick<ResolvedConfig, 'grants'>,
  { processes, token: seed, grantKeys: keys = [] }: Pick<SectionWiringInputs, 'processes' | 'token' | 'grantKeys'>,
): SectionPlanFields {
  const defs = grantDefs(config);
  if (defs.length === 0) return {};
  const placeholders: Record<string, string> = {};
  const grants: EgressGrant[] = defs.map((def, i) => {
    const placeholder = placeholderFor(def, i, seed, keys);
    for (const v of def.env) placeholders[v] = placeholder;
    return {
      name: def.name,
      host: def.host,
      header: def.header,
      format: def.format,
      ...(def.also.length ? { also: def.also } : {}),
      ...(def.query ? { query: def.query } : {}),
      placeholder,
      keyEnv: keyEnvName(i),
    };
  });
  const redact = [...new Set(defs.flatMap((d) => [d.header, ...d.also.map((s) => s.header)]))].filter(
    (h) => !CREDENTIAL_HEADERS.has(h),
  );
  const values = [...new Set(Object.values(placeholders))];
  for (const p of processes) {
    if (p.role === 'egress') p.spec!.egress!.grants = grants;
    if (p.role === 'third-party') p.env = { ...p.env, ...placeholders };
    if (p.spec?.events && redact.length) p.spec.events.redactHeaders = redact;
    // Placeholders have the providers' key formats: DLP would mask them in captured bodies as keys.
    if (p.spec?.events && p.spec.events.capture !== 'metadata') p.spec.events.placeholders = values;
    // moat-policy's DLP scans bodies: an agent that puts its (key-shaped) placeholder in one is not leaking anything.
    if (p.spec?.policy) p.spec.policy.placeholders = values;
  }
  return { placeholders };
}

/** Egress's secrets: the real keys, under the names its spec gives (sealed for egress alone by `up`). */
export function egressKeyEnv(egress: PlannedProcess, keys: readonly string[]): Record<string, string> {
  const grants = egress.spec?.egress?.grants ?? [];
  return Object.fromEntries(grants.map((g, i) => [g.keyEnv, keys[i]]));
}
