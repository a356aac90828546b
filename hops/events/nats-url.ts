// A NATS URL may carry credentials (nats://user:pass@host:4222, nats://token@host). nats.js takes
// them from options, not from the URL, so every connection goes through natsConnection(); and
// whatever moat prints or logs shows the URL through redactNatsUrl, so they never reach output or logs.
// On the chain's own nats-server a process connects as a user of its own instead, with an nkey seed
// from its spec file (supervisor/chain/nats-auth.ts says who may do what), signed with Node's Ed25519 (./nkeys.ts).
import type { ConnectionOptions } from 'nats';
import { nkeyAuthenticator } from './nkeys';

// The scheme is optional (nats.js takes host:port alone, and user:pass@host:port then).
const USERINFO = /^(\s*(?:[a-z][a-z0-9+.-]*:\/\/)?)([^/@]*)@/i;

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

/** The URL (or comma-separated list of URLs) with any user, password or token replaced by ***. */
export function redactNatsUrl(url: string): string {
  return url
    .split(',')
    .map((one) => one.replace(USERINFO, '$1***@'))
    .join(',');
}

type NatsAuthOptions = Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token' | 'authenticator' | 'inboxPrefix'>;

/**
 * The servers without credentials, and the credentials as nats.js options: the identity's nkey when it has one,
 * else those of the first URL that has some.
 */
export function natsConnection(url: string, identity?: NatsIdentity): NatsAuthOptions {
  let auth: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> = {};
  const servers = url.split(',').map((one) => {
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
