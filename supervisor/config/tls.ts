// tls: in moat.yaml: the checks the schema cannot express, and what the plan hands processes.
// A host outside tls.intercept is tunnelled blind, so whatever needs to see its requests would
// silently see nothing: a grant (no key can be put in), a base_url hop serving it (never called),
// a hop that intercepts TLS itself without being told which hosts to leave alone (it would break
// the end-to-end TLS the agent was promised). Each is refused here, at file:line.
import type { ResolvedConfig } from './types';
import type { JsonPath } from './schema-check';
import { MoatError } from '../errors';
import { grantDefs } from './grants';
import { intercepts, interceptsEverything, interceptRegex } from '../../hops/logic/intercept';

/** The placeholder a TLS-intercepting hop's command, env or files use to learn which hosts it may intercept. */
export const INTERCEPT_PLACEHOLDER = '{intercept_hosts}';

/** tls.intercept, or undefined when it is every host (nothing is blind). */
export function interceptList(config: Pick<ResolvedConfig, 'tls'>): string[] | undefined {
  const list = config.tls?.intercept ?? ['*'];
  return interceptsEverything(list) ? undefined : list;
}

/** The value of {intercept_hosts}: a regular expression matching the intercepted hosts (mitmproxy's allow_hosts). */
export function interceptHostsValue(config: Pick<ResolvedConfig, 'tls'>): string {
  return interceptRegex(config.tls?.intercept ?? ['*']);
}

export function checkIntercept(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  const list = interceptList(config);
  if (!list) return;
  const at = `tls.intercept (${where(['tls', 'intercept'])})`;
  const messages: string[] = [];
  config.proxies.forEach((hop, i) => {
    if (typeof hop === 'string') return;
    const name = `${where(['proxies', i])}: proxies[${i}] (${hop.name})`;
    if (hop.trust_ca) {
      const text = [...hop.command, ...Object.values(hop.env ?? {}), ...Object.values(hop.files ?? {})].join('\n');
      if (!text.includes(INTERCEPT_PLACEHOLDER)) {
        messages.push(
          `${name} intercepts TLS itself (trust_ca) and is not told which hosts to leave alone, so it would ` +
            `break the end-to-end TLS of the hosts ${at} leaves blind; pass ${INTERCEPT_PLACEHOLDER} (a ` +
            `regular expression of the intercepted hosts) to its own setting, as the mitmproxy manifest does ` +
            `with allow_hosts, or remove tls.intercept`,
        );
      }
    }
    if (hop.kind === 'base_url') {
      const blind = (hop.scope?.hosts ?? []).filter((h) => !/[*?]/.test(h) && !intercepts(list, h));
      if (blind.length)
        messages.push(
          `${name} serves ${blind.join(', ')}, which ${at} leaves blind, so it would never see those ` +
            `requests; add ${blind.join(', ')} to tls.intercept`,
        );
    }
  });
  grantDefs(config).forEach((def, i) => {
    if (!intercepts(list, def.host)) {
      messages.push(
        `${where(['grants', i])}: grants[${i}] (${def.name}) puts a key into requests to ${def.host}, which ` +
          `${at} leaves blind: egress cannot see them, and the agent's placeholder would reach the provider as ` +
          `it is; add ${def.host} to tls.intercept or remove the grant`,
      );
    }
  });
  if (messages.length) throw new MoatError('MOAT_ERR_INTERCEPT_CONFLICT', messages.join('\n'));
}
