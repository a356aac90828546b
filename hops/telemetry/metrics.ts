// The metrics moat-telemetry keeps, in one table (names, help, labels, buckets, units), and the
// prom-client registry built from it. /metrics serves the registry; the OTLP exporter encodes it.
import { Counter, Histogram, Registry } from 'prom-client';
import type { AggregatorOutput } from './aggregator';
import { statusClass, type TraceSummary } from './trace-summary';
import { LabelCap } from './label-cap';

// Seconds. A Moat hop adds well under a millisecond to a few; a provider call takes up to minutes.
const HOP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface MetricDef {
  name: string;
  kind: 'counter' | 'histogram';
  help: string;
  labels: readonly string[];
  /** UCUM unit for OTLP: "s", "1" (a count), or a count of things ({token}). */
  unit: string;
  /** Counts of whole things: sent to OTLP as integers. */
  integer?: boolean;
  buckets?: number[];
}

export const METRIC_DEFS = {
  requests: {
    name: 'moat_requests_total',
    kind: 'counter',
    unit: '1',
    integer: true,
    labels: ['host', 'status_class', 'decision', 'answered_by'],
    help:
      'Requests the agent sent through the chain, by destination host, status class of the answer it got ' +
      '(2xx..5xx, none), decision (deny when a hop denied it) and answered_by (upstream, or the hop that ' +
      'answered itself).',
  },
  hopLatency: {
    name: 'moat_hop_added_latency_seconds',
    kind: 'histogram',
    unit: 's',
    buckets: HOP_BUCKETS,
    labels: ['hop', 'hop_name'],
    help:
      'Latency each hop added to a request: elapsed at the boundary in front of the hop minus elapsed at the ' +
      'boundary after it (all of it when the hop answered itself).',
  },
  upstream: {
    name: 'moat_upstream_duration_seconds',
    kind: 'histogram',
    unit: 's',
    buckets: CALL_BUCKETS,
    labels: ['host'],
    help:
      'Elapsed at the last boundary (egress), from the request arriving there to the end of the response: the ' +
      "destination's time plus egress's own.",
  },
  ttfb: {
    name: 'moat_ttfb_seconds',
    kind: 'histogram',
    unit: 's',
    buckets: CALL_BUCKETS,
    labels: ['host'],
    help:
      'Time to first byte the agent saw: from its request arriving at the chain (boundary 0) to the response ' +
      'headers.',
  },
  duration: {
    name: 'moat_request_duration_seconds',
    kind: 'histogram',
    unit: 's',
    buckets: CALL_BUCKETS,
    labels: ['host'],
    help: 'Whole requests as the agent saw them: from arriving at the chain (boundary 0) to the end of the response.',
  },
  tokens: {
    name: 'moat_tokens_total',
    kind: 'counter',
    unit: '{token}',
    integer: true,
    labels: ['direction', 'model'],
    help:
      "Tokens of provider calls by the provider's own usage figures: direction in (input, prompt) or out " +
      '(output, completion).',
  },
  cost: {
    name: 'moat_estimated_cost_total',
    kind: 'counter',
    unit: '1',
    labels: ['model'],
    help:
      'Estimated cost of provider calls from their usage and the prices: table (in its currency); calls of a ' +
      'model without a price are not counted here.',
  },
  decisions: {
    name: 'moat_decisions_total',
    kind: 'counter',
    unit: '1',
    integer: true,
    labels: ['hop_name', 'decision', 'rule'],
    help:
      "Decisions hops recorded: moat-policy's allow, deny and log with the rule that matched (empty when none " +
      "did), skipped for requests outside a base_url hop's scope.",
  },
  cachePrefixChanged: {
    name: 'moat_cache_prefix_changed_total',
    kind: 'counter',
    unit: '1',
    integer: true,
    labels: ['hop', 'hop_name'],
    help:
      "Requests whose cacheable prompt prefix (provider facts' cache_prefix) a hop changed: the provider's prompt " +
      'cache cannot serve them (moat chain cache estimates the cost).',
  },
  firstToken: {
    name: 'moat_hop_time_to_first_token_seconds',
    kind: 'histogram',
    unit: 's',
    buckets: CALL_BUCKETS,
    labels: ['hop', 'hop_name'],
    help:
      'SSE responses: time from the request arriving at the boundary in front of the hop to the first event ' +
      "passing it back (the time to first token the hop's client saw; egress: the destination's).",
  },
  firstTokenAdded: {
    name: 'moat_hop_added_first_token_seconds',
    kind: 'histogram',
    unit: 's',
    buckets: HOP_BUCKETS,
    labels: ['hop', 'hop_name'],
    help:
      'SSE responses: the delay each hop added to the first event: time to first token in front of it minus ' +
      'after it.',
  },
  droppedTraces: {
    name: 'moat_telemetry_dropped_traces_total',
    kind: 'counter',
    unit: '1',
    integer: true,
    labels: ['reason'],
    help:
      'Requests left out of the metrics above: timeout (the agent got no answer within 15 minutes of the first ' +
      'event), capacity (more than 10000 unfinished at once).',
  },
  eventGaps: {
    name: 'moat_event_gaps_total',
    kind: 'counter',
    unit: '1',
    integer: true,
    labels: ['hop_name'],
    help:
      'Events a Moat process had to drop (queue full or NATS away), from its gap records: requests they ' +
      'belonged to may be missing above.',
  },
} as const satisfies Record<string, MetricDef>;

/** Distinct hosts and models kept as label values before the rest count as "other". */
const MAX_LABEL_VALUES = 200;

type Labels<D extends MetricDef> = D['labels'][number];

export class TelemetryMetrics {
  /** Our own registry: nothing of prom-client's global one (or of any library using it) leaks in. */
  readonly registry = new Registry();
  private readonly hosts = new LabelCap(MAX_LABEL_VALUES);
  private readonly models = new LabelCap(MAX_LABEL_VALUES);
  private readonly requests = this.counter(METRIC_DEFS.requests);
  private readonly hopLatency = this.histogram(METRIC_DEFS.hopLatency);
  private readonly upstream = this.histogram(METRIC_DEFS.upstream);
  private readonly ttfb = this.histogram(METRIC_DEFS.ttfb);
  private readonly duration = this.histogram(METRIC_DEFS.duration);
  private readonly tokens = this.counter(METRIC_DEFS.tokens);
  private readonly cost = this.counter(METRIC_DEFS.cost);
  private readonly decisions = this.counter(METRIC_DEFS.decisions);
  private readonly cachePrefixChanged = this.counter(METRIC_DEFS.cachePrefixChanged);
  private readonly firstToken = this.histogram(METRIC_DEFS.firstToken);
  private readonly firstTokenAdded = this.histogram(METRIC_DEFS.firstTokenAdded);
  private readonly droppedTraces = this.counter(METRIC_DEFS.droppedTraces);
  private readonly eventGaps = this.counter(METRIC_DEFS.eventGaps);

  private counter<D extends MetricDef>(d: D): Counter<Labels<D>> {
    return new Counter({ name: d.name, help: d.help, labelNames: d.labels as Labels<D>[], registers: [this.registry] });
  }

  private histogram<D extends MetricDef>(d: D): Histogram<Labels<D>> {
    return new Histogram({
      name: d.name,
      help: d.help,
      labelNames: d.labels as Labels<D>[],
      buckets: d.buckets,
      registers: [this.registry],
    });
  }

  record(out: AggregatorOutput): void {
    for (const trace of out.traces) this.recordTrace(trace);
    if (out.dropped.timeout) this.droppedTraces.inc({ reason: 'timeout' }, out.dropped.timeout);
    if (out.dropped.capacity) this.droppedTraces.inc({ reason: 'capacity' }, out.dropped.capacity);
    for (const gap of out.gaps) this.eventGaps.inc({ hop_name: gap.hopName }, gap.dropped);
  }

  private recordTrace(t: TraceSummary): void {
    const host = this.hosts.value(t.host);
    this.requests.inc({ host, status_class: statusClass(t.status), decision: t.decision, answered_by: t.answeredBy });
    for (const h of t.hops) this.hopLatency.observe({ hop: String(h.hop), hop_name: h.hopName }, h.addedMs / 1000);
    if (t.upstreamMs !== undefined) this.upstream.observe({ host }, t.upstreamMs / 1000);
    if (t.ttfbMs !== undefined) this.ttfb.observe({ host }, t.ttfbMs / 1000);
    if (t.durationMs !== undefined) this.duration.observe({ host }, t.durationMs / 1000);
    for (const h of t.cachePrefixChanged) this.cachePrefixChanged.inc({ hop: String(h.hop), hop_name: h.hopName });
    for (const f of t.firstToken) {
      const labels = { hop: String(f.hop), hop_name: f.hopName };
      this.firstToken.observe(labels, f.firstEventMs / 1000);
      if (f.addedMs !== undefined) this.firstTokenAdded.observe(labels, f.addedMs / 1000);
    }
    for (const d of t.decisions) this.decisions.inc({ hop_name: d.hopName, decision: d.decision, rule: d.rule ?? '' });
    if (t.usage) {
      const model = this.models.value(t.usage.model);
      this.tokens.inc({ direction: 'in', model }, t.usage.inputTokens);
      this.tokens.inc({ direction: 'out', model }, t.usage.outputTokens);
      if (t.usage.cost !== undefined) this.cost.inc({ model }, t.usage.cost);
    }
  }
}
