// A NATS URL may carry credentials (nats://user:pass@host:4222, nats://token@host). nats.js takes
// them from options, not from the URL, so every connection goes through natsConnection(); and
// whatever moat prints or logs shows the URL through redactNatsUrl, so they never reach output or logs.
// On the chain's own nats-server a process connects as a user of its own instead, with an nkey seed
// from its spec file (supervisor/chain/nats-auth.ts says who may do what), signed with Node's Ed25519 (./nkeys.ts).
import type { ConnectionOptions } from 'nats';
import { nkeyAuthenticator } from './nkeys';

// The scheme is optional (nats.js takes host:port alone, and user:pass@host:port then).
const USERINFO = /^(\s*(?:[a-z][a-z0-9+.-]*:\/\/)?)([^/@]*)@/i;
const SCHEME = /^\s*[a-z][a-z0-9+.-]*:\/\//i;
// One server as nats.js takes it: [scheme://][userinfo@]host[:port][/], host a name, an IPv4 or a bracketed IPv6.
const SERVER = /^(?:(nats|tls|ws|wss):\/\/)?(?:[^/@\s]+@)?(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?\/?$/i;

/**
 * How every long-lived connection follows a NATS cluster: reconnect for ever to any server of the list (and those
 * the cluster announces), and notice a dead server within ~20 s even when its machine vanished without a reset
 * (nats.js pings every 2 minutes by default).
 */
export const FOLLOW_CLUSTER = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  pingInterval: 10_000,
  maxPingOut: 2,
} as const;

/** The servers of a URL list (events.nats_url, MOAT_NATS_URL, --nats): split at commas, trimmed. */
export function natsServerList(url: string): string[] {
  return url.split(',').map((one) => one.trim());
}

/**
 * What is wrong with a NATS URL or list (pure), in words that never repeat a credential: an empty entry, an entry
 * that is not [scheme://][user:password@]host[:port], a scheme nats.js does not speak, or, in a list, an entry
 * without its scheme (a comma inside a password would otherwise pass for the end of a server: write it %2C).
 */
export function natsUrlProblem(url: string): string | undefined {
  const servers = natsServerList(url);
  for (const [i, one] of servers.entries()) {
    const which = servers.length > 1 ? `server ${i + 1} of ${servers.length}` : 'the server';
    if (one === '') return `${which} is empty (a stray comma?)`;
    if (SCHEME.test(one) && !/^(nats|tls|ws|wss):\/\//i.test(one))
      return `${which} has a scheme NATS does not speak (nats://, tls://, ws:// or wss://)`;
    const m = SERVER.exec(one);
    if (!m || (m[2] !== undefined && Number(m[2]) > 65535))
      return `${which} is not [nats://][user:password@]host[:port] (${redactNatsUrl(url).split(',')[i]})`;
    if (servers.length > 1 && !m[1])
      return (
        `${which} has no scheme: in a list every server starts with nats:// (or tls://), and a comma inside a ` +
        `password is written %2C`
      );
  }
  return undefined;
}

/** A spec part's NATS user on the chain's own nats-server; the seed is added at `up`, never in the plan. */
export interface NatsIdentity {
  natsUser?: string;
  /** The user's nkey seed (a secret: only in 0600 spec files). */
  natsSeed?: string;
}

/** Where nats.js makes the reply subjects of this user's requests: only this user may subscribe there. */
export function inboxPrefix(user: string): string {
  return `_INBOX_${user}`;
}

/**
 * The URL (or comma-separated list of URLs) with any user, password or token replaced by ***. A raw comma inside a
 * password splits it into two entries (`nats://u:pa` and `ss@h`): an entry with credentials but no scheme is taken for
 * such a tail, so the entries before it, back to one with a scheme, are masked whole as well.
 */
export function redactNatsUrl(url: string): string {
  const parts = url.split(',');
  const shown = parts.map((one) => one.replace(USERINFO, '$1***@'));
  for (let i = 0; i < parts.length; i++) {
    if (!USERINFO.test(parts[i]) || SCHEME.test(parts[i])) continue;
    for (let j = i - 1; j >= 0 && !USERINFO.test(parts[j]); j--) {
      shown[j] = '***';
      if (SCHEME.test(parts[j])) break;
    }
  }
  return shown.join(',');
}

type NatsAuthOptions = Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token' | 'authenticator' | 'inboxPrefix'>;

/**
 * The servers without credentials, and the credentials as nats.js options: the identity's nkey when it has one,
 * else those of the first URL that has some.
 */
export function natsConnection(url: string, identity?: NatsIdentity): NatsAuthOptions {
  let auth: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> = {};
  const servers = natsServerList(url).map((one) => {
    const m = USERINFO.exec(one);
    if (!m) return one.trim();
    if (!auth.user && !auth.token) {
      const colon = m[2].indexOf(':');
      auth =
        colon < 0
          ? { token: decodeURIComponent(m[2]) }
          : { user: decodeURIComponent(m[2].slice(0, colon)), pass: decodeURIComponent(m[2].slice(colon + 1)) };
    }
    return one.replace(USERINFO, '$1').trim();
  });
  if (identity?.natsUser && identity.natsSeed) {
    return {
      servers,
      authenticator: nkeyAuthenticator(identity.natsSeed),
      inboxPrefix: inboxPrefix(identity.natsUser),
    };
  }
  return { servers, ...auth };
}
