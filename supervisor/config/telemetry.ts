// telemetry: in moat.yaml: checked when the config loads, and wired by the plan into the spec of moat-telemetry's
// metrics process, a service beside the ledger writer (the /metrics port, where events come from, prices, OTLP).
import type { ResolvedConfig } from './types';
import { bypassesEgress } from './hop-resolution';
import type { JsonPath } from './schema-check';
import type { Plan, SectionPlanFields, SectionWiringInputs } from '../chain/plan-types';
import { MoatError } from '../errors';
import { METRICS_HOST, METRICS_PATH } from '../../hops/telemetry/metrics-server';
import type { MetricsSpec } from '../../hops/telemetry/service';
import { TELEMETRY_HOP } from '../../hops/builtin-hops';

const OTLP_INTERVAL_DEFAULT_MS = 10_000;

/** telemetry: has settings (the loader fills an absent section in as {}). */
function configured(config: Pick<ResolvedConfig, 'telemetry'>): boolean {
  return Object.keys(config.telemetry ?? {}).length > 0;
}

/** Only moat-telemetry has metrics: settings for them without it in proxies: would silently do nothing. */
export function checkTelemetry(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  if (configured(config) && !config.proxies.includes(TELEMETRY_HOP)) {
    throw new MoatError(
      'MOAT_ERR_TELEMETRY_WITHOUT_HOP',
      `${where(['telemetry'])}: telemetry: is set, but proxies: has no ${TELEMETRY_HOP}, the hop whose metrics ` +
        `process serves /metrics and sends OTLP; add ${TELEMETRY_HOP} to proxies: or remove telemetry:`,
    );
  }
  const port = config.telemetry?.metrics_port;
  if (port && port === config.ingress.port) {
    throw new MoatError(
      'MOAT_ERR_CONFIG_INVALID',
      `${where(['telemetry', 'metrics_port'])}: telemetry.metrics_port: ${port} is ingress.port too; give ` +
        `one of them another port, or 0 for a free one`,
    );
  }
  // Both are services started together, each ready once its port accepts: one would stand for the other.
  if (port && config.dashboard.enabled && port === config.dashboard.port) {
    throw new MoatError(
      'MOAT_ERR_CONFIG_INVALID',
      `${where(['telemetry', 'metrics_port'])}: telemetry.metrics_port: ${port} is dashboard.port too; give ` +
        `one of them another port, or 0 for a free one`,
    );
  }
}

/**
 * The innermost boundary that records events: egress's (N), or N-1 when the last hop dials destinations itself
 * and its traffic never reaches egress.
 */
function lastBoundary(config: ResolvedConfig): number {
  return bypassesEgress(config.proxies[config.proxies.length - 1]) ? config.proxies.length - 1 : config.proxies.length;
}

/**
 * With moat-telemetry in proxies: adds its metrics process to the services; returns the URL of /metrics, or nothing
 * when the chain has no moat-telemetry. The metrics come from every boundary's events, which the hop's own request
 * path has no need to read (hops/telemetry/metrics-main.ts).
 */
export function wireTelemetry(
  config: ResolvedConfig,
  {
    processes,
    services,
    natsUrl,
    allocatePort,
  }: Pick<SectionWiringInputs, 'processes' | 'services' | 'natsUrl' | 'allocatePort'>,
): SectionPlanFields {
  if (!processes.some((p) => p.role === 'builtin' && p.name === TELEMETRY_HOP)) return {};
  const t = config.telemetry ?? {};
  const metricsPort = t.metrics_port || allocatePort();
  const metrics: MetricsSpec = {
    chain: config.name,
    natsUrl,
    metricsPort,
    lastBoundary: lastBoundary(config),
    prices: config.prices ?? {},
    ...(t.otlp
      ? {
          otlp: {
            endpoint: t.otlp.endpoint,
            intervalMs: t.otlp.interval_ms ?? OTLP_INTERVAL_DEFAULT_MS,
            headers: t.otlp.headers ?? {},
          },
        }
      : {}),
  };
  services.push({
    id: 'metrics',
    role: 'metrics',
    hop: -1,
    name: 'metrics',
    port: metricsPort,
    forwardsTo: '',
    metrics,
  });
  return { metricsUrl: `http://${METRICS_HOST}:${metricsPort}${METRICS_PATH}` };
}

/** For plan output and plan.json: OTLP header values may be the collector's credentials. */
export function hideOtlpHeaders(plan: Plan): Plan {
  for (const p of plan.services) {
    const headers = p.metrics?.otlp?.headers;
    if (headers) for (const name of Object.keys(headers)) headers[name] = '***';
  }
  return plan;
}
