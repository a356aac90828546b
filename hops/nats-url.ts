// A NATS URL may carry credentials (nats://user:pass@host:4222, nats://token@host). nats.js takes
// them from options, not from the URL, so every connection goes through natsConnection(); and
// whatever moat prints or logs shows the URL through redactNatsUrl, so they never reach output or logs.
import type { ConnectionOptions } from 'nats';

// The scheme is optional (nats.js takes host:port alone, and user:pass@host:port then).
const USERINFO = /^(\s*(?:[a-z][a-z0-9+.-]*:\/\/)?)([^/@]*)@/i;

/** The URL (or comma-separated list of URLs) with any user, password or token replaced by ***. */
export function redactNatsUrl(url: string): string {
  return url
    .split(',')
    .map((one) => one.replace(USERINFO, '$1***@'))
    .join(',');
}

/** The servers without credentials, and the credentials (of the first URL that has some) as nats.js options. */
export function natsConnection(url: string): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token'> {
  let auth: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> = {};
  const servers = url.split(',').map((one) => {
    const m = USERINFO.exec(one);
    if (!m) return one.trim();
    if (!auth.user && !auth.token) {
      const colon = m[2].indexOf(':');
      auth = colon < 0 ? { token: decodeURIComponent(m[2]) } : { user: decodeURIComponent(m[2].slice(0, colon)), pass: decodeURIComponent(m[2].slice(colon + 1)) };
    }
    return one.replace(USERINFO, '$1').trim();
  });
  return { servers, ...auth };
}
