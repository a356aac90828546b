// Whether the last Moat process on the way out (egress, or the link in front of a hop that dials directly)
// may connect to a host: egress.allow, and never this machine's own services through a wildcard. Pure.
import { isIP } from 'node:net';
import { globMatch } from './glob';
import { canonicalHost } from './canonical-host';
import type { EgressSpec, LinkSpec } from '../spec';

/**
 * Hosts that are this machine or its link: loopback and unspecified addresses, link-local ones (cloud metadata
 * services live there), and localhost. Through them an agent could reach the chain's own nats-server or any local
 * daemon; a blind tunnel would even give it raw TCP. Only an allow entry that names one exactly lets it through.
 */
export function isLocalHost(host: string): boolean {
  // However it is spelled: `[::ffff:7f00:1]`, `2130706433` and `localhost.` are this machine too.
  const h = canonicalHost(host) ?? host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return /^(127\.|0\.|169\.254\.)/.test(h);
  if (isIP(h) === 6)
    return h === '::1' || h === '::' || /^fe[89ab][0-9a-f]:/.test(h) || /^::ffff:(127\.|0\.|169\.254\.)/.test(h);
  return false;
}

export interface EgressRefusal {
  error: 'egress_denied';
  message: string;
}

/** Why this process may not connect to host, or undefined when it may (or is not the last on the way out). */
export function egressRefusal(
  spec: Pick<LinkSpec, 'role' | 'hop' | 'name' | 'egress' | 'onward'>,
  host: string,
): EgressRefusal | undefined {
  const allow =
    spec.role === 'egress' ? spec.egress!.allow : spec.onward.kind === 'last_hop' ? spec.onward.allow : undefined;
  if (!allow) return undefined;
  const where =
    spec.role === 'egress' ? 'egress' : `hop ${spec.hop} (${spec.name}), which connects to destinations itself,`;
  const h = host.toLowerCase();
  if (isLocalHost(h)) {
    if (allow.some((entry) => entry.toLowerCase() === h)) return undefined;
    return {
      error: 'egress_denied',
      message:
        `${where} may not connect to ${host}, an address of this machine, unless egress.allow names it exactly ` +
        `(a glob is not enough)`,
    };
  }
  if (allow.some((glob) => globMatch(glob, h))) return undefined;
  return { error: 'egress_denied', message: `${where} may not connect to ${host} (egress.allow: ${allow.join(', ')})` };
}

/**
 * egress.allow names this host exactly (not by a glob), or egress.resolve maps it (its keys are exact): the operator
 * chose what it reaches, so egress connects to its address whatever it is (hops/runtime/egress-dial.ts checks all
 * others).
 */
export function namedExactly(egress: Pick<EgressSpec, 'allow' | 'resolve'>, host: string, port: number): boolean {
  if (resolveEntry(egress.resolve, host, port) !== undefined) return true;
  const h = canonicalHost(host) ?? host.toLowerCase();
  return egress.allow.some((entry) => (canonicalHost(entry) ?? entry.toLowerCase()) === h);
}

/**
 * The egress.resolve value for host:port (or for host, any port), as hops/runtime/forwarder.ts resolveAddress reads it.
 */
export function resolveEntry(resolve: Record<string, string>, host: string, port: number): string | undefined {
  return resolve[`${host}:${port}`] ?? resolve[host];
}
