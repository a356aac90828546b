// moat-telemetry's metrics, the runtime half: reads the chain's events from NATS, feeds them to
// the aggregator, and keeps the Prometheus registry (served on /metrics) and the OTLP export
// going. A plain core subscription: it takes nothing from the ledger writer's durable consumer,
// and what arrives while it is away is simply not counted. It runs in a process of its own
// (metrics-main.ts), off the request path: reading every event of the chain cost the moat-telemetry
// hop 13-17% of its CPU per request (docs/benchmarks.md), and none of it is work a request needs.
import { connect, type NatsConnection } from 'nats';
import { redactNatsUrl, natsConnection, FOLLOW_CLUSTER, type NatsIdentity } from '../events/nats-url';
import type { MoatEvent } from '../../schemas/generated/event';
import { SUBJECTS } from '../events/subjects';
import { decodeEvents } from '../events/wire';
import type { PriceTable } from '../providers/prices';
import { TraceAggregator } from './aggregator';
import { METRIC_DEFS, TelemetryMetrics } from './metrics';
import { serveMetrics, type MetricsServer } from './metrics-server';
import { OtlpExporter } from './otlp-exporter';

/** What the supervisor hands the metrics process (written to <state>/run/metrics.json by `up`). */
export interface MetricsSpec extends NatsIdentity {
  chain: string;
  natsUrl: string;
  /** Chosen by the plan (telemetry.metrics_port, or a free port). */
  metricsPort: number;
  /** The innermost boundary that records events: N, or N-1 when the last hop dials destinations itself. */
  lastBoundary: number;
  prices: PriceTable;
  otlp?: { endpoint: string; intervalMs: number; headers: Record<string, string> };
}

/** How often finished traces are turned into metrics. */
const TICK_MS = 100;

export interface RunningTelemetry {
  metrics: TelemetryMetrics;
  server: MetricsServer;
  close(): Promise<void>;
}

export async function startTelemetry(spec: MetricsSpec, log: (line: string) => void): Promise<RunningTelemetry> {
  const chain = spec.chain;
  const metrics = new TelemetryMetrics();
  const aggregator = new TraceAggregator({ lastBoundary: spec.lastBoundary, prices: spec.prices });
  const server = await serveMetrics(metrics.registry, spec.metricsPort);
  const exporter = spec.otlp
    ? new OtlpExporter({
        ...spec.otlp,
        chain,
        defs: Object.values(METRIC_DEFS),
        snapshot: () => metrics.registry.getMetricsAsJSON(),
        log,
      })
    : undefined;
  exporter?.start();

  let closed = false;
  let nc: NatsConnection | undefined;
  connect({
    ...natsConnection(spec.natsUrl, spec),
    name: `moat-${chain}-telemetry`,
    ...FOLLOW_CLUSTER,
    waitOnFirstConnect: true,
  }).then(
    (conn) => {
      if (closed) return void conn.close();
      nc = conn;
      conn.subscribe(SUBJECTS.chain(chain), {
        callback: (err, msg) => {
          if (err) return;
          // One event or a burst of them (hops/events/wire.ts); what is not JSON is not counted.
          for (const { value } of decodeEvents(msg.data)) {
            try {
              aggregator.add(value as MoatEvent, performance.now());
            } catch {
              // Anyone on the machine can publish to NATS: what is not an event is not counted.
            }
          }
        },
      });
    },
    (err: Error) => log(`telemetry: cannot connect to ${redactNatsUrl(spec.natsUrl)}: ${err.message}`),
  );

  const tick = setInterval(() => metrics.record(aggregator.drain(performance.now())), TICK_MS);
  tick.unref();

  return {
    metrics,
    server,
    async close() {
      closed = true;
      clearInterval(tick);
      await nc?.drain().catch(() => undefined);
      // Answered requests still waiting for inner events count now; the last export includes them.
      metrics.record(aggregator.flush());
      await exporter?.close();
      await server.close();
    },
  };
}
