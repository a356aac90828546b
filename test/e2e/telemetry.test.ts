// moat-telemetry end to end: a real chain (nats-server, pm2, moat-telemetry and moat-policy, the
// fake provider behind egress), a few requests, then /metrics scraped and the OTLP export received
// by a test receiver, both with the counts those requests must give.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';

const COLLECTOR_TOKEN = 'Bearer test-collector-token-0123456789';
const CHAIN = 'metrics-e2e';

/** A stand-in OTLP/HTTP collector for this test: records every POST; 127.0.0.1 only. */
class TestOtlpReceiver {
  readonly posts: { path: string; headers: http.IncomingHttpHeaders; body: any }[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.posts.push({
        path: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** The value of one sample of the Prometheus text, e.g. 'moat_tokens_total{direction="in",model="claude-x"}'. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function waitFor<T>(
  what: string,
  get: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await get();
  while (!done(last)) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; last seen:\n${typeof last === 'string' ? last : JSON.stringify(last, null, 1)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
    last = await get();
  }
  return last;
}

describe('telemetry: /metrics and OTLP from a running chain', function () {
  this.timeout(120_000);
  let provider: FakeProvider;
  let receiver: TestOtlpReceiver;
  const chain = new CliChain(CHAIN);
  let metricsUrl = '';
  let upOutput = '';

  before(async () => {
    provider = await new FakeProvider().start();
    receiver = await new TestOtlpReceiver().start();
    chain.writeConfig(`name: ${CHAIN}
proxies:
  - moat-telemetry
  - moat-policy
policy:
  rules:
    - id: no-model-list
      match: "api.anthropic.com/v1/models"
      action: deny
      reason: listing models is not allowed here
prices:
  "claude-*": { input: 3, output: 15 }
telemetry:
  otlp:
    endpoint: http://127.0.0.1:${receiver.port}
    interval_ms: 250
    headers:
      authorization: "${COLLECTOR_TOKEN}"
${egressTo(provider.port)}
`);
    upOutput = (await chain.up()).stdout;
    const row = (await chain.status()).find((r) => r.role === 'metrics');
    metricsUrl = row.metrics_url;

    // Two provider calls with usage (12 in, 3 out each), one request moat-policy denies.
    const agent = await chain.agent();
    const body = JSON.stringify({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    for (let i = 0; i < 2; i++) {
      const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).to.equal(200);
    }
    const denied = await timedRequest(agent, 'https://api.anthropic.com/v1/models');
    expect(denied.status).to.equal(403);
    await agent.close();
  });

  after(async () => {
    await chain.cleanup();
    await receiver.stop();
    await provider.stop();
  });

  it('`up` and `status` say where /metrics is: 127.0.0.1 on a port of its own', async () => {
    expect(metricsUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(upOutput).to.contain(`metrics: ${metricsUrl}`);
    const status = await chain.cli(['status']);
    expect(status.stdout).to.contain(`metrics: ${metricsUrl} (moat-telemetry)`);
  });

  it('/metrics has the requests, decisions, tokens, cost and latency histograms of those requests', async () => {
    const text = await waitFor(
      'three requests in /metrics',
      () => fetch(metricsUrl).then((r) => r.text()),
      (t) =>
        (sample(
          t,
          'moat_requests_total{host="api.anthropic.com",status_class="2xx",decision="allow",answered_by="upstream"}',
        ) ?? 0) +
          (sample(
            t,
            'moat_requests_total{host="api.anthropic.com",status_class="4xx",decision="deny",answered_by="moa' +
              't-policy"}',
          ) ?? 0) >=
        3,
    );
    const expected: Record<string, number> = {
      'moat_requests_total{host="api.anthropic.com",status_class="2xx",decision="allow",answered_by="upstream"}': 2,
      'moat_requests_total{host="api.anthropic.com",status_class="4xx",decision="deny",answered_by="moat-policy"}': 1,
      'moat_decisions_total{hop_name="moat-policy",decision="allow",rule=""}': 2,
      'moat_decisions_total{hop_name="moat-policy",decision="deny",rule="no-model-list"}': 1,
      'moat_tokens_total{direction="in",model="claude-x"}': 24,
      'moat_tokens_total{direction="out",model="claude-x"}': 6,
      'moat_hop_added_latency_seconds_count{hop="1",hop_name="moat-telemetry"}': 3,
      'moat_hop_added_latency_seconds_count{hop="2",hop_name="moat-policy"}': 3,
      'moat_ttfb_seconds_count{host="api.anthropic.com"}': 3,
      'moat_request_duration_seconds_count{host="api.anthropic.com"}': 3,
      'moat_upstream_duration_seconds_count{host="api.anthropic.com"}': 2,
    };
    for (const [series, value] of Object.entries(expected)) expect(sample(text, series), series).to.equal(value);
    expect(sample(text, 'moat_estimated_cost_total{model="claude-x"}')).to.be.closeTo((24 * 3 + 6 * 15) / 1e6, 1e-12);
    // Latencies are real measurements: positive, and the whole request took longer than hop 1 added to it.
    expect(sample(text, 'moat_hop_added_latency_seconds_sum{hop="2",hop_name="moat-policy"}')).to.be.greaterThan(0);
    expect(sample(text, 'moat_request_duration_seconds_sum{host="api.anthropic.com"}')).to.be.greaterThan(
      sample(text, 'moat_hop_added_latency_seconds_sum{hop="1",hop_name="moat-telemetry"}')!,
    );
    expect(text).to.contain('# TYPE moat_hop_added_latency_seconds histogram');
    expect(text).to.not.contain('/v1/messages');
    expect(sample(text, 'moat_telemetry_dropped_traces_total{reason="timeout"}')).to.equal(undefined);
  });

  it('/metrics answers GET /metrics only', async () => {
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).to.equal(404);
    expect((await fetch(metricsUrl, { method: 'POST' })).status).to.equal(405);
  });

  it(
    'the OTLP test receiver gets POST /v1/metrics with the same metrics, the configured header, the chain as ' +
      'resource',
    async () => {
      const metricsOf = (post: { body: any }) => post.body.resourceMetrics[0].scopeMetrics[0].metrics as any[];
      const point = (post: { body: any }, name: string, attrs: Record<string, string>) =>
        metricsOf(post)
          .find((m) => m.name === name)
          ?.[name.endsWith('_total') ? 'sum' : 'histogram'].dataPoints.find((p: any) =>
            Object.entries(attrs).every(([k, v]) =>
              p.attributes.some((a: any) => a.key === k && a.value.stringValue === v),
            ),
          );
      const post = await waitFor(
        'an OTLP export with the tokens of both calls',
        async () => receiver.posts[receiver.posts.length - 1],
        (p) =>
          p !== undefined &&
          point(p, 'moat_tokens_total', { direction: 'in' })?.asInt === '24' &&
          point(p, 'moat_requests_total', { decision: 'deny' })?.asInt === '1',
      );
      expect(post.path).to.equal('/v1/metrics');
      expect(post.headers['content-type']).to.equal('application/json');
      expect(post.headers.authorization).to.equal(COLLECTOR_TOKEN);
      expect(post.body.resourceMetrics[0].resource.attributes).to.deep.equal([
        { key: 'service.name', value: { stringValue: 'moat-chain' } },
        { key: 'moat.chain', value: { stringValue: CHAIN } },
      ]);
      expect(metricsOf(post).map((m) => m.name)).to.include.members([
        'moat_requests_total',
        'moat_hop_added_latency_seconds',
        'moat_ttfb_seconds',
        'moat_tokens_total',
        'moat_estimated_cost_total',
        'moat_decisions_total',
      ]);
      expect(point(post, 'moat_requests_total', { decision: 'allow', status_class: '2xx' }).asInt).to.equal('2');
      expect(point(post, 'moat_tokens_total', { direction: 'out' }).asInt).to.equal('6');
      expect(point(post, 'moat_estimated_cost_total', { model: 'claude-x' }).asDouble).to.be.closeTo(0.000162, 1e-12);
      const hop2 = point(post, 'moat_hop_added_latency_seconds', { hop_name: 'moat-policy' });
      expect(hop2.count).to.equal('3');
      expect(hop2.bucketCounts.map(Number).reduce((a: number, b: number) => a + b, 0)).to.equal(3);
      expect(metricsOf(post).find((m) => m.name === 'moat_ttfb_seconds').unit).to.equal('s');
    },
  );

  it(
    'the canonical log line is still written, and the ' + 'collector header is in no log and not in plan.json',
    async () => {
      const logs = await chain.cli(['logs', '1']);
      expect(logs.stdout).to.match(
        /moat-telemetry trace=\S+ method=POST scheme=https host=api\.anthropic\.com path=\/v1\/messages status=200 /,
      );
      const logDir = chain.layout.logDir;
      const everything =
        readdirSync(logDir)
          .map((f) => readFileSync(join(logDir, f), 'utf8'))
          .join('\n') + readFileSync(chain.layout.planFile, 'utf8');
      expect(everything).to.not.contain('test-collector-token');
    },
  );

  it('a collector that goes away is logged once and does not touch traffic', async () => {
    await receiver.stop();
    const agent = await chain.agent();
    const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
      method: 'POST',
      body: JSON.stringify({ model: 'claude-x', messages: [] }),
      headers: { 'content-type': 'application/json' },
    });
    await agent.close();
    expect(res.status).to.equal(200);
    const logs = await waitFor(
      'the export failure in the log',
      async () => (await chain.cli(['logs', '1', '--lines', '200'])).stdout,
      (t) => t.includes('otlp: export to'),
    );
    const failures = logs.split('\n').filter((l) => l.includes('otlp: export to') && l.includes('failed'));
    expect(failures[0]).to.contain(
      `otlp: export to http://127.0.0.1:${receiver.port}/v1/metrics failed: fetch failed: ECONNREFUSED`,
    );
    await new Promise((r) => setTimeout(r, 800)); // three more intervals
    const again = (await chain.cli(['logs', '1', '--lines', '200'])).stdout;
    expect(again.split('\n').filter((l) => l.includes('otlp: export to') && l.includes('failed'))).to.have.length(1);
    expect(again).to.not.contain('test-collector-token');
    const text = await waitFor(
      'the fourth request in /metrics',
      () => fetch(metricsUrl).then((r) => r.text()),
      (t) =>
        sample(
          t,
          'moat_requests_total{host="api.anthropic.com",status_class="2xx",decision="allow",answered_by="upstream"}',
        ) === 3,
    );
    expect(sample(text, 'moat_tokens_total{direction="in",model="claude-x"}')).to.equal(36);
  });
});
