// Every forwarding failure maps to a status and a JSON body in this one function:
// 504 when something did not answer in time, 502 otherwise, always naming the hop; 403 when egress refused the
// address a destination resolved to.
import type { LinkErrorCode } from './link-errors';
import type { NextHop } from '../spec';
import { ADDRESS_REFUSED } from './address-guard';
import { agentHint } from './agent-hint';
import {
  UPSTREAM_PROXY_AUTH,
  UPSTREAM_PROXY_REFUSED,
  UPSTREAM_PROXY_UNAVAILABLE,
  type UpstreamProxyError,
} from './upstream-proxy';

export interface Failure {
  /**
   * 408: the request's body stopped arriving (hops/runtime/body-timeout.ts); 403: egress refused the destination's
   * address (hops/runtime/egress-dial.ts); 500-599: a third-party hop's own error answer, its status kept
   * (hops/logic/hop-answer.ts).
   */
  status: number;
  error: LinkErrorCode;
  message: string;
  hop?: number;
  hop_name?: string;
  /** egress.upstream_proxy's host:port, when the failure was the corporate proxy's (never its credentials). */
  upstream_proxy?: string;
  /** A third-party hop answered with its own error: its status and the start of its text (hops/logic/hop-answer.ts). */
  hop_status?: number;
  hop_answer?: string;
}

const TLS_VERIFY = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|HOSTNAME_MISMATCH/;

/**
 * `next` is the hop this process forwards to; absent at egress, where `host` is the destination.
 * `tlsToDestination`: the TLS this process opens ends at the destination, not at the next hop (in front of a hop
 * that dials directly), so a certificate that does not verify is the destination's.
 */
export function describeFailure(
  err: NodeJS.ErrnoException & { statusCode?: number },
  timedOut: boolean,
  next: NextHop | undefined,
  host: string,
  tlsToDestination = false,
): Failure {
  const code = err.code ?? '';
  if (code === ADDRESS_REFUSED) {
    const what = `a connection to ${host}`;
    const message = agentHint({ code: 'egress_address_refused', what, reason: err.message });
    return { status: 403, error: 'egress_address_refused', message };
  }
  if (next && tlsToDestination && TLS_VERIFY.test(code))
    return { status: 502, error: 'upstream_tls', message: `${host}: certificate did not verify (${code})` };
  if (next) {
    const named = `hop ${next.hop} (${next.name})`;
    const base = { hop: next.hop, hop_name: next.name };
    if (timedOut || code === 'ETIMEDOUT')
      return { status: 504, error: 'hop_timeout', message: `${named} did not answer in time`, ...base };
    // EAGAIN: a Unix socket whose backlog is full (its process stopped taking connections) refuses at once, where a
    // port would have kept the connection waiting.
    if (code === 'ECONNREFUSED' || code === 'EAGAIN')
      return {
        status: 502,
        error: 'hop_unavailable',
        message: `${named} is not accepting connections (${code})`,
        ...base,
      };
    if (code === 'MOAT_NEXT_CA_UNREADABLE') return { status: 502, error: 'hop_failed', message: err.message, ...base };
    if (code === 'MOAT_FOREIGN_LISTENER')
      return { status: 502, error: 'hop_unavailable', message: `${named}: ${err.message}`, ...base };
    if (code === 'MOAT_CONNECT_REFUSED') {
      return {
        status: 502,
        error: 'hop_failed',
        message: `${named} ${err.message}; it or a hop after it is failing`,
        ...base,
      };
    }
    return {
      status: 502,
      error: 'hop_failed',
      message: `${named} broke the connection (${code || err.message})`,
      ...base,
    };
  }
  const viaProxy = upstreamProxyFailure(err, host);
  if (viaProxy) return viaProxy;
  if (timedOut || code === 'ETIMEDOUT')
    return { status: 504, error: 'upstream_timeout', message: `${host} did not answer in time` };
  if (TLS_VERIFY.test(code))
    return { status: 502, error: 'upstream_tls', message: `${host}: certificate did not verify (${code})` };
  return { status: 502, error: 'upstream_unavailable', message: `${host}: ${code || err.message}` };
}

/** egress.upstream_proxy failed: the agent learns which proxy and what it said, never its credentials. */
function upstreamProxyFailure(err: NodeJS.ErrnoException, host: string): Failure | undefined {
  const e = err as Partial<UpstreamProxyError>;
  const proxy = e.upstreamProxy;
  if (!proxy) return undefined;
  const named = `the corporate proxy ${proxy} (egress.upstream_proxy)`;
  if (e.code === UPSTREAM_PROXY_AUTH)
    return {
      status: 502,
      error: 'upstream_proxy_auth',
      message:
        `${named} refused egress's credentials (it answered ${e.proxyStatus ?? 407}) on the way to ${host}; ` +
        `check the user:password in the variable egress.upstream_proxy.credentials_env names, then moat chain up`,
      upstream_proxy: proxy,
    };
  if (e.code === UPSTREAM_PROXY_UNAVAILABLE)
    return {
      status: 502,
      error: 'upstream_proxy_unavailable',
      message: `${named} could not be reached on the way to ${host} (${e.cause ?? (e.message || 'error')})`,
      upstream_proxy: proxy,
    };
  if (e.code === UPSTREAM_PROXY_REFUSED)
    return {
      status: 502,
      error: 'upstream_proxy_refused',
      message: `${named} answered ${e.proxyStatus ?? '?'} to the request for ${host}`,
      upstream_proxy: proxy,
    };
  return undefined;
}
