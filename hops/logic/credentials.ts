// The credential boundary at egress (pure: no sockets, no environment). The agent and every hop
// hold placeholders; egress alone holds the real keys and puts them into requests for the hosts
// they are granted for. Rules, first matching grant per host:
//   - only over https: a key never travels in clear text (a plain-http request is left as it is);
//   - only to the granted host on port 443 (another port of the same host may be another service);
//   - a header of the grant that holds exactly the placeholder, or exactly the slot's format around it ("Bearer
//     <placeholder>"), gets the key (or its query parameter, exactly the placeholder); a value that merely contains
//     the placeholder is left alone: the agent must not choose what surrounds the real key;
//   - when none of those headers is present the grant's header is injected;
//   - a header carrying anything else is the agent's own credential and is left alone;
//   - a host no grant names never receives a key; a placeholder sent there is forwarded as it is.
// Egress records the request as it arrived, so the key never reaches events, logs or the ledger.
import type { OutgoingHttpHeaders } from 'node:http';
import { globMatch } from './glob';

/** A header a credential may travel in; `format` holds `{key}` where the key goes ("Bearer {key}"). */
export interface CredentialSlot {
  header: string;
  format: string;
}

/** One grant as egress knows it (from its spec): everything but the key itself. */
export interface EgressGrant {
  /** "anthropic", "openai", "gemini", or the host of a generic grant: for messages. */
  name: string;
  /** Host glob the credential is for. */
  host: string;
  /** The header injected when the request carries none of the grant's slots (lower case). */
  header: string;
  format: string;
  /** Other headers clients use for the same credential (anthropic: authorization: Bearer). */
  also?: CredentialSlot[];
  /** A query parameter clients may carry the key in (gemini: ?key=). */
  query?: string;
  /** What the agent and the hops hold instead of the key. */
  placeholder: string;
  /** The variable of egress's own environment the key is read from (never written to disk). */
  keyEnv: string;
}

export type CredentialAction =
  /** the grant's header was absent and was added */
  | 'injected'
  /** a placeholder was replaced by the key */
  | 'replaced'
  /** the request carried a credential of its own in the grant's header: left alone */
  | 'kept'
  /** the host is granted but the request is plain http: no key in clear text */
  | 'plain_http'
  /** the host is granted but the port is not 443: no key for whatever else listens there */
  | 'other_port'
  /** no grant for this host */
  | 'none';

export interface CredentialRequest {
  scheme: 'http' | 'https';
  host: string;
  /** The destination's port: keys go to port 443 only. */
  port: number;
  /** Path with query, as it will be sent. */
  path: string;
  headers: OutgoingHttpHeaders;
}

export interface CredentialResult {
  action: CredentialAction;
  /** Name of the grant that applied. */
  grant?: string;
  /** Headers and path to send (copies when changed; the input is never modified). */
  headers: OutgoingHttpHeaders;
  path: string;
}

/** The only port a granted key is sent to. */
export const GRANT_PORT = 443;

export function grantFor(grants: readonly EgressGrant[], host: string): EgressGrant | undefined {
  return grants.find((g) => globMatch(g.host, host));
}

export function slotsOf(grant: EgressGrant): CredentialSlot[] {
  return [{ header: grant.header, format: grant.format }, ...(grant.also ?? [])];
}

export function formatCredential(format: string, key: string): string {
  return format.split('{key}').join(key);
}

/**
 * What egress sends for one request. `keyOf` gives the real key of a grant; it is asked only when
 * the key is about to be used.
 */
export function applyCredentials(
  grants: readonly EgressGrant[],
  keyOf: (grant: EgressGrant) => string,
  req: CredentialRequest,
): CredentialResult {
  const unchanged = (action: CredentialAction, grant?: EgressGrant): CredentialResult => ({
    action,
    grant: grant?.name,
    headers: req.headers,
    path: req.path,
  });
  const grant = grantFor(grants, req.host);
  if (!grant) return unchanged('none');
  if (req.scheme !== 'https') return unchanged('plain_http', grant);
  if (req.port !== GRANT_PORT) return unchanged('other_port', grant);

  const headers: OutgoingHttpHeaders = { ...req.headers };
  let replaced = false;
  let present = false;
  for (const slot of slotsOf(grant)) {
    const value = headers[slot.header];
    if (value === undefined) continue;
    present = true;
    // Exactly the placeholder, or exactly the slot's format around it: nothing the agent wrote around it survives.
    const swap = (v: string) => {
      const around = placeholderIn(v, slot.format, grant.placeholder);
      if (!around) return v;
      replaced = true;
      return around.before + keyOf(grant) + around.after;
    };
    headers[slot.header] = Array.isArray(value) ? value.map(swap) : swap(String(value));
  }
  let path = req.path;
  const q = path.indexOf('?');
  if (grant.query && q >= 0) {
    // Only the one parameter is touched; the rest of the query keeps its exact encoding.
    const parts = path
      .slice(q + 1)
      .split('&')
      .map((part) => {
        const eq = part.indexOf('=');
        const name = eq < 0 ? part : part.slice(0, eq);
        if (safeDecode(name) !== grant.query) return part;
        present = true;
        if (eq < 0 || safeDecode(part.slice(eq + 1)) !== grant.placeholder) return part;
        replaced = true;
        return `${name}=${encodeURIComponent(keyOf(grant))}`;
      });
    path = `${path.slice(0, q)}?${parts.join('&')}`;
  }
  if (replaced) return { action: 'replaced', grant: grant.name, headers, path };
  if (present) return unchanged('kept', grant);
  headers[grant.header] = formatCredential(grant.format, keyOf(grant));
  return { action: 'injected', grant: grant.name, headers, path };
}

/**
 * When `value` is exactly the placeholder, or exactly `format` around it (the words of the format in any case: an
 * auth scheme such as "Bearer" is case-insensitive), what stands before and after it; otherwise undefined.
 */
export function placeholderIn(
  value: string,
  format: string,
  placeholder: string,
): { before: string; after: string } | undefined {
  if (value === placeholder) return { before: '', after: '' };
  const at = format.indexOf('{key}');
  if (at < 0) return undefined;
  const pre = format.slice(0, at);
  const post = format.slice(at + '{key}'.length);
  if (value.length !== pre.length + placeholder.length + post.length) return undefined;
  const before = value.slice(0, pre.length);
  const after = value.slice(pre.length + placeholder.length);
  if (before.toLowerCase() !== pre.toLowerCase() || after.toLowerCase() !== post.toLowerCase()) return undefined;
  return value.slice(pre.length, pre.length + placeholder.length) === placeholder ? { before, after } : undefined;
}

/** Reads each grant's key from egress's secrets (hops/main.ts secretsOf); throws naming the first one missing. */
export function keysFromEnv(grants: readonly EgressGrant[], env: NodeJS.ProcessEnv): Map<string, string> {
  const keys = new Map<string, string>();
  for (const g of grants) {
    const key = env[g.keyEnv];
    if (!key) throw new Error(`grant ${g.name}: ${g.keyEnv} is not in egress's secrets`);
    keys.set(g.keyEnv, key);
  }
  return keys;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
