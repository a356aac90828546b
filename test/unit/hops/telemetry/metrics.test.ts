// Finished traces into Prometheus counters and histograms, and the same registry as an OTLP/HTTP
// JSON body (no sockets: prom-client's text and JSON snapshot, and the pure encoder).
import { expect } from 'chai';
import { TraceAggregator } from '../../../../hops/telemetry/aggregator';
import { TelemetryMetrics, METRIC_DEFS } from '../../../../hops/telemetry/metrics';
import { encodeOtlpMetrics, unixNanos, type OtlpMetric } from '../../../../hops/telemetry/otlp-encode';
import { metricsUrl } from '../../../../hops/telemetry/otlp-exporter';
import { LabelCap } from '../../../../hops/telemetry/label-cap';
import { exchange, gap } from '../../../helpers/synthetic-events';

const PRICES = { 'claude-*': { input: 3, output: 15 } };
const provider = (input: number, output: number) => ({
  provider: { adapter: 'anthropic-messages', input_tokens: input, output_tokens: output },
});
const asks = { provider: { adapter: 'anthropic-messages', model: 'claude-x' } };

/** Two allowed provider calls, one deny, one gap record. */
function recorded(): TelemetryMetrics {
  const a = new TraceAggregator({ lastBoundary: 2, prices: PRICES });
  const call = (trace: string, input: number, output: number) =>
    exchange(trace, [
      { elapsed: 12, ttfb: 8 },
      { elapsed: 10, response: { decision: 'allow' } },
      { elapsed: 4, request: asks, response: provider(input, output) },
    ]);
  const denied = exchange('d', [
    { elapsed: 2, status: 403 },
    { elapsed: 1, status: 403, response: { decision: 'deny', rule: 'no-internal', error: 'policy_denied' } },
  ]);
  for (const e of [...call('c1', 1000, 100), ...call('c2', 3000, 300), ...denied, gap(1, 5)]) a.add(e, 0);
  const m = new TelemetryMetrics();
  m.record(a.drain(0));
  return m;
}

const lines = async (m: TelemetryMetrics) => (await m.registry.metrics()).split('\n');
/** The value of the sample whose name and labels are `series` (sums are floats: compared with closeTo). */
const sample = (text: string[], series: string) =>
  Number(text.find((l) => l.startsWith(series + ' '))?.slice(series.length + 1));

describe('telemetry metrics: Prometheus registry and OTLP encoding (no sockets)', () => {
  it('counts requests by host, status class, decision and who answered', async () => {
    const text = await lines(recorded());
    expect(text).to.include(
      'moat_requests_total{host="api.anthropic.com",status_class="2xx",decision="allow",answered_by="upstream"} 2',
    );
    expect(text).to.include(
      'moat_requests_total{host="api.anthropic.com",status_class="4xx",decision="deny",answered_by="moat-policy"} 1',
    );
  });

  it('tokens in and out and the estimated cost, by model', async () => {
    const text = await lines(recorded());
    expect(text).to.include('moat_tokens_total{direction="in",model="claude-x"} 4000');
    expect(text).to.include('moat_tokens_total{direction="out",model="claude-x"} 400');
    expect(sample(text, 'moat_estimated_cost_total{model="claude-x"}')).to.be.closeTo(
      (4000 * 3 + 400 * 15) / 1e6,
      1e-12,
    );
  });

  it('added latency per hop, TTFB, duration and upstream time as histograms (seconds)', async () => {
    const text = await lines(recorded());
    expect(text).to.include('moat_hop_added_latency_seconds_count{hop="1",hop_name="moat-telemetry"} 3');
    expect(text).to.include('moat_hop_added_latency_seconds_count{hop="2",hop_name="moat-policy"} 3');
    // Hop 2 added 6 ms twice (10 - 4) and answered the deny in 1 ms.
    expect(sample(text, 'moat_hop_added_latency_seconds_sum{hop="2",hop_name="moat-policy"}')).to.be.closeTo(
      0.013,
      1e-12,
    );
    expect(text).to.include('moat_hop_added_latency_seconds_bucket{le="0.005",hop="2",hop_name="moat-policy"} 1');
    expect(text).to.include('moat_hop_added_latency_seconds_bucket{le="0.01",hop="2",hop_name="moat-policy"} 3');
    expect(text).to.include('moat_ttfb_seconds_count{host="api.anthropic.com"} 3');
    expect(sample(text, 'moat_request_duration_seconds_sum{host="api.anthropic.com"}')).to.be.closeTo(0.026, 1e-12);
    expect(text).to.include('moat_upstream_duration_seconds_count{host="api.anthropic.com"} 2');
  });

  it('decisions by hop, decision and rule; gaps; help texts', async () => {
    const text = await lines(recorded());
    expect(text).to.include('moat_decisions_total{hop_name="moat-policy",decision="allow",rule=""} 2');
    expect(text).to.include('moat_decisions_total{hop_name="moat-policy",decision="deny",rule="no-internal"} 1');
    expect(text).to.include('moat_event_gaps_total{hop_name="moat-policy"} 5');
    for (const d of Object.values(METRIC_DEFS)) expect(text).to.include(`# HELP ${d.name} ${d.help}`);
  });

  it('hosts and models past the cap count as "other"', () => {
    const cap = new LabelCap(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => cap.value(v))).to.deep.equal([
      'a',
      'b',
      'other',
      'a',
      'other',
      'b',
    ]);
  });

  describe('OTLP/HTTP JSON', () => {
    let metrics: OtlpMetric[];
    let body: ReturnType<typeof encodeOtlpMetrics>;
    before(async () => {
      const m = recorded();
      body = encodeOtlpMetrics(await m.registry.getMetricsAsJSON(), {
        chain: 'dev',
        startTimeUnixNano: '1000',
        timeUnixNano: '2000',
        defs: Object.values(METRIC_DEFS),
      });
      metrics = body.resourceMetrics[0].scopeMetrics[0].metrics;
    });
    const named = (name: string) => metrics.find((m) => m.name === name)!;
    const attrs = (p: { attributes: { key: string; value: { stringValue: string } }[] }) =>
      Object.fromEntries(p.attributes.map((a) => [a.key, a.value.stringValue]));

    it('one resource: service.name moat-chain and the chain name; metrics with no data are left out', () => {
      expect(body.resourceMetrics[0].resource.attributes).to.deep.equal([
        { key: 'service.name', value: { stringValue: 'moat-chain' } },
        { key: 'moat.chain', value: { stringValue: 'dev' } },
      ]);
      expect(body.resourceMetrics[0].scopeMetrics[0].scope).to.deep.equal({ name: 'moat-telemetry' });
      expect(metrics.map((m) => m.name)).to.not.include('moat_telemetry_dropped_traces_total');
    });

    it('counters are cumulative monotonic sums: whole counts asInt (strings), cost asDouble', () => {
      const requests = named('moat_requests_total');
      expect(requests.unit).to.equal('1');
      expect(requests.sum!.aggregationTemporality).to.equal(2);
      expect(requests.sum!.isMonotonic).to.equal(true);
      const allowed = requests.sum!.dataPoints.find((p) => attrs(p).decision === 'allow')!;
      expect(attrs(allowed)).to.deep.equal({
        answered_by: 'upstream',
        decision: 'allow',
        host: 'api.anthropic.com',
        status_class: '2xx',
      });
      expect(allowed).to.deep.include({ asInt: '2', startTimeUnixNano: '1000', timeUnixNano: '2000' });
      const tokensIn = named('moat_tokens_total').sum!.dataPoints.find((p) => attrs(p).direction === 'in')!;
      expect(tokensIn.asInt).to.equal('4000');
      expect(named('moat_estimated_cost_total').sum!.dataPoints[0].asDouble).to.be.closeTo(0.018, 1e-12);
    });

    it('histograms: count, sum, per-bucket counts (not cumulative) and the bounds, in seconds', () => {
      const hop = named('moat_hop_added_latency_seconds');
      expect(hop.unit).to.equal('s');
      const policy = hop.histogram!.dataPoints.find((p) => attrs(p).hop_name === 'moat-policy')!;
      expect(attrs(policy)).to.deep.equal({ hop: '2', hop_name: 'moat-policy' });
      expect(policy.count).to.equal('3');
      expect(policy.sum).to.be.closeTo(0.013, 1e-12);
      expect(policy.explicitBounds).to.deep.equal(METRIC_DEFS.hopLatency.buckets);
      expect(policy.bucketCounts).to.have.length(policy.explicitBounds.length + 1);
      // 1 ms (the deny) in (0.0005, 0.001], 6 ms twice in (0.005, 0.01].
      expect(policy.bucketCounts.map(Number)).to.deep.equal([0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    });

    it('times are ns since the epoch as strings; the URL is <endpoint>/v1/metrics', () => {
      expect(unixNanos(1_700_000_000_123.5)).to.equal('1700000000123500000');
      expect(metricsUrl('http://127.0.0.1:4318')).to.equal('http://127.0.0.1:4318/v1/metrics');
      expect(metricsUrl('https://collector.example/otlp/')).to.equal('https://collector.example/otlp/v1/metrics');
    });
  });
});
