// The metrics as an OTLP/HTTP JSON body (ExportMetricsServiceRequest), written by hand: pure,
// from a prom-client snapshot (registry.getMetricsAsJSON()) and the metric table.
//
// Shape (protobuf JSON mapping: 64-bit integers are decimal strings, enums are numbers):
//   { resourceMetrics: [{
//       resource: { attributes: [service.name = "moat-chain", moat.chain = <chain>] },
//       scopeMetrics: [{ scope: { name: "moat-telemetry" }, metrics: [
//         { name, description, unit, sum: { aggregationTemporality: 2, isMonotonic: true,
//             dataPoints: [{ attributes, startTimeUnixNano, timeUnixNano, asInt | asDouble }] } },
//         { name, description, unit, histogram: { aggregationTemporality: 2,
//             dataPoints: [{ attributes, startTimeUnixNano, timeUnixNano, count, sum, bucketCounts,
//                            explicitBounds }] } } ] }] }] }
// Names are the Prometheus ones; values are cumulative since the telemetry process started (temporality 2).
import type { MetricDef } from './metrics';

/** What prom-client's getMetricsAsJSON() returns, as far as we read it. */
export interface PromSnapshotMetric {
  name: string;
  help: string;
  values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
}

export interface OtlpAttribute {
  key: string;
  value: { stringValue: string };
}

export interface OtlpSumPoint {
  attributes: OtlpAttribute[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  asInt?: string;
  asDouble?: number;
}

export interface OtlpHistogramPoint {
  attributes: OtlpAttribute[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  count: string;
  sum: number;
  bucketCounts: string[];
  explicitBounds: number[];
}

export interface OtlpMetric {
  name: string;
  description: string;
  unit: string;
  sum?: { aggregationTemporality: 2; isMonotonic: true; dataPoints: OtlpSumPoint[] };
  histogram?: { aggregationTemporality: 2; dataPoints: OtlpHistogramPoint[] };
}

export interface OtlpMetricsRequest {
  resourceMetrics: {
    resource: { attributes: OtlpAttribute[] };
    scopeMetrics: { scope: { name: string; version?: string }; metrics: OtlpMetric[] }[];
  }[];
}

/** AGGREGATION_TEMPORALITY_CUMULATIVE: every export carries the totals since start. */
const CUMULATIVE = 2;

export interface EncodeContext {
  chain: string;
  /** When counting started and now, in ns since the epoch (as strings: they exceed 2^53). */
  startTimeUnixNano: string;
  timeUnixNano: string;
  defs: readonly MetricDef[];
}

const attr = (key: string, value: string): OtlpAttribute => ({ key, value: { stringValue: value } });

function attributesOf(labels: Record<string, string | number | undefined>): OtlpAttribute[] {
  return Object.keys(labels)
    .filter((k) => k !== 'le' && labels[k] !== undefined)
    .sort()
    .map((k) => attr(k, String(labels[k])));
}

function sumMetric(m: PromSnapshotMetric, def: MetricDef, ctx: EncodeContext): OtlpMetric {
  const dataPoints = m.values.map((v) => ({
    attributes: attributesOf(v.labels),
    startTimeUnixNano: ctx.startTimeUnixNano,
    timeUnixNano: ctx.timeUnixNano,
    ...(def.integer ? { asInt: String(Math.round(v.value)) } : { asDouble: v.value }),
  }));
  return {
    name: m.name,
    description: m.help,
    unit: def.unit,
    sum: { aggregationTemporality: CUMULATIVE, isMonotonic: true, dataPoints },
  };
}

/** prom-client gives cumulative buckets (le) plus _sum and _count per label set; OTLP wants counts per bucket. */
function histogramMetric(m: PromSnapshotMetric, def: MetricDef, ctx: EncodeContext): OtlpMetric {
  const series = new Map<
    string,
    { labels: Record<string, string | number | undefined>; cumulative: number[]; sum: number; count: number }
  >();
  const bounds = def.buckets ?? [];
  for (const v of m.values) {
    const attributes = attributesOf(v.labels);
    const key = JSON.stringify(attributes);
    let s = series.get(key);
    if (!s)
      series.set(key, (s = { labels: v.labels, cumulative: new Array(bounds.length + 1).fill(0), sum: 0, count: 0 }));
    if (v.metricName?.endsWith('_bucket')) {
      const le = v.labels.le;
      const i = le === '+Inf' ? bounds.length : bounds.indexOf(Number(le));
      if (i >= 0) s.cumulative[i] = v.value;
    } else if (v.metricName?.endsWith('_sum')) s.sum = v.value;
    else if (v.metricName?.endsWith('_count')) s.count = v.value;
  }
  const dataPoints = [...series.values()].map((s) => ({
    attributes: attributesOf(s.labels),
    startTimeUnixNano: ctx.startTimeUnixNano,
    timeUnixNano: ctx.timeUnixNano,
    count: String(s.count),
    sum: s.sum,
    bucketCounts: s.cumulative.map((c, i) => String(c - (i > 0 ? s.cumulative[i - 1] : 0))),
    explicitBounds: [...bounds],
  }));
  return {
    name: m.name,
    description: m.help,
    unit: def.unit,
    histogram: { aggregationTemporality: CUMULATIVE, dataPoints },
  };
}

/** The request body; metrics with no data yet are left out. */
export function encodeOtlpMetrics(snapshot: readonly PromSnapshotMetric[], ctx: EncodeContext): OtlpMetricsRequest {
  const byName = new Map(ctx.defs.map((d) => [d.name, d]));
  const metrics: OtlpMetric[] = [];
  for (const m of snapshot) {
    const def = byName.get(m.name);
    if (!def || m.values.length === 0) continue;
    metrics.push(def.kind === 'histogram' ? histogramMetric(m, def, ctx) : sumMetric(m, def, ctx));
  }
  return {
    resourceMetrics: [
      {
        resource: { attributes: [attr('service.name', 'moat-chain'), attr('moat.chain', ctx.chain)] },
        scopeMetrics: [{ scope: { name: 'moat-telemetry' }, metrics }],
      },
    ],
  };
}

/** ms since the epoch (Date.now(), performance.timeOrigin + now) as OTLP's ns string. */
export function unixNanos(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1e6))).toString();
}
