// egress.upstream_proxy in moat.yaml: the URL checked when the file loads, the proxy's place in egress's spec (host,
// port, bypass: never its credentials), and its Basic credentials read by `up` from the variable credentials_env
// names and handed to egress alone through its process environment, as grant keys are (grants.ts).
import type { ResolvedConfig } from './types';
import type { JsonPath } from './schema-check';
import type { PlannedProcess } from '../chain/plan-types';
import type { SectionPlanFields, SectionWiringInputs } from '../chain/plan-types';
import { MoatError } from '../errors';
import {
  parseUpstreamProxyUrl,
  upstreamProxyName,
  UPSTREAM_PROXY_AUTH_ENV,
  type UpstreamProxySpec,
} from '../../hops/logic/upstream-proxy';

type Where = (path: JsonPath) => string;
type Config = Pick<ResolvedConfig, 'egress'>;

/** The URL must be http://host:port with no credentials in it (it is written to the plan). */
export function checkUpstreamProxy(config: Config, where: Where): void {
  const proxy = config.egress.upstream_proxy;
  if (!proxy) return;
  const parsed = parseUpstreamProxyUrl(proxy.url);
  if ('problem' in parsed)
    throw new MoatError(
      'MOAT_ERR_CONFIG_INVALID',
      `${where(['egress', 'upstream_proxy', 'url'])}: egress.upstream_proxy.url: ${parsed.problem}`,
    );
}

/** What egress's spec says about the proxy; undefined without one. */
export function upstreamProxySpec(config: Config): UpstreamProxySpec | undefined {
  const proxy = config.egress.upstream_proxy;
  if (!proxy) return undefined;
  const parsed = parseUpstreamProxyUrl(proxy.url);
  if ('problem' in parsed) return undefined; // checkUpstreamProxy refused it when the file loaded
  return {
    host: parsed.host,
    port: parsed.port,
    bypass: proxy.bypass ?? [],
    ...(proxy.credentials_env ? { credentialsEnv: UPSTREAM_PROXY_AUTH_ENV } : {}),
  };
}

/** Puts the proxy into egress's spec and says where it is (host:port) for plan and status. */
export function wireUpstreamProxy(
  config: Config,
  { processes }: Pick<SectionWiringInputs, 'processes'>,
): SectionPlanFields {
  const spec = upstreamProxySpec(config);
  if (!spec) return {};
  const egress = processes.find((p) => p.role === 'egress');
  if (egress?.spec?.egress) {
    egress.spec.egress.upstreamProxy = spec;
    egress.forwardsTo = `internet through ${upstreamProxyName(spec)}`;
  }
  return { upstreamProxy: upstreamProxyName(spec) };
}

/**
 * The proxy's "user:password" from the environment `up` runs in; undefined when the config names no variable.
 * Unset, empty or not of that shape: MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS naming the variable and the key (never the
 * value).
 */
export function readUpstreamProxyCredentials(config: Config, where: Where, env: NodeJS.ProcessEnv): string | undefined {
  const name = config.egress.upstream_proxy?.credentials_env;
  if (!name) return undefined;
  const at = `${where(['egress', 'upstream_proxy', 'credentials_env'])}: egress.upstream_proxy.credentials_env`;
  const value = env[name];
  if (!value)
    throw new MoatError(
      'MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS',
      `${at}: ${name} is not set; export the corporate proxy's user:password in it in the environment of ` +
        `\`moat chain up\` (only egress receives it)`,
    );
  if (!/^[^:\s]+:[^\r\n]*$/.test(value) || [...value].some((c) => c < ' ' || c === '\x7f'))
    throw new MoatError(
      'MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS',
      `${at}: ${name} is not of the form user:password (one line, a user without colon or space)`,
    );
  return value;
}

/** Egress's own environment entry: the credentials, under the name its spec gives. Nothing else gets it. */
export function upstreamProxyEnv(egress: PlannedProcess, credentials: string | undefined): Record<string, string> {
  const name = egress.spec?.egress?.upstreamProxy?.credentialsEnv;
  return name && credentials ? { [name]: credentials } : {};
}
