// moat-telemetry's metrics run in a process of their own (hops/telemetry/metrics-main.ts), a service of the chain.
// What it holds (the OTLP collector's credential, its NATS reader's seed) stays with it: not in the moat-telemetry hop
// the agent's requests pass through, not on a command line or in an environment another process of the user reads,
// and nothing an agent learns from /metrics (127.0.0.1, no token) names a path, a trace or a credential.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';

const COLLECTOR_SECRET = 'Bearer collector-secret-5f1c9a7e2b';
const PATH_SECRET = 'path-secret-9d2e71';

/** A port nothing listens on: the collector is away, as it often is; the export failing must not matter here. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe("security: moat-telemetry's metrics process", function () {
  this.timeout(120_000);
  const chain = new CliChain('metrics-sec');
  let provider: FakeProvider;
  let rows: any[] = [];
  let metricsUrl = '';
  let trace = '';

  before(async () => {
    provider = await new FakeProvider().start();
    chain.writeConfig(`name: metrics-sec
proxies: [moat-telemetry, moat-policy]
telemetry:
  otlp:
    endpoint: http://127.0.0.1:${await closedPort()}
    interval_ms: 200
    headers:
      authorization: "${COLLECTOR_SECRET}"
${egressTo(provider.port)}
`);
    await chain.up();
    rows = await chain.status();
    metricsUrl = rows.find((r) => r.role === 'metrics').metrics_url;
    const agent = await chain.agent();
    const res = await timedRequest(agent, `https://api.anthropic.com/v1/models?q=${PATH_SECRET}`);
    await agent.close();
    expect(res.status).to.equal(200);
    trace = (await chain.ledgerEvents((e) => e.boundary === 0 && e.direction === 'request', 1))[0].trace;
    expect(trace).to.match(/^[0-9a-f]{32}$/);
  });

  after(async () => {
    await chain.cleanup();
    await provider.stop();
  });

  it('the moat-telemetry hop on the request path holds neither the collector credential nor a reader identity', () => {
    const hopSpec = readFileSync(join(chain.layout.runDir, '1-moat-telemetry.json'), 'utf8');
    const metricsFile = join(chain.layout.runDir, 'metrics.json');
    const metricsSpec = readFileSync(metricsFile, 'utf8');
    const readerSeed = JSON.parse(metricsSpec).natsSeed as string;
    expect(readerSeed).to.match(/^SU[A-Z2-7]+$/);
    expect(hopSpec).to.not.contain(COLLECTOR_SECRET);
    expect(hopSpec).to.not.contain(readerSeed);
    expect(hopSpec).to.not.contain('metricsPort');
    // Its one NATS identity is its recorder's, which may publish on its own subject only (nats-auth.test.ts).
    expect(JSON.parse(hopSpec).events.natsUser).to.equal('hop-1');
    // The metrics process has them, in its spec file, which only this user may read.
    expect(metricsSpec).to.contain(COLLECTOR_SECRET);
    expect(JSON.parse(metricsSpec).natsUser).to.equal('telemetry');
    expect(statSync(metricsFile).mode & 0o777).to.equal(0o600);
  });

  it("neither the collector credential nor the reader's seed is in plan.json, `plan --json` or any log", async () => {
    const seed = JSON.parse(readFileSync(join(chain.layout.runDir, 'metrics.json'), 'utf8')).natsSeed as string;
    // The collector is away: the metrics process has logged its failed export, with the endpoint, by now.
    let metricsLog = '';
    for (let i = 0; i < 100 && !metricsLog.includes('otlp: export to'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      metricsLog = (await chain.cli(['logs', '1', '--lines', '500'])).stdout;
    }
    expect(metricsLog).to.contain('otlp: export to');
    const plan = await chain.cli(['plan', '--json']);
    expect(plan.code).to.equal(0);
    for (const [where, text] of [
      ['plan.json', readFileSync(chain.layout.planFile, 'utf8')],
      ['plan --json', plan.stdout],
      ['logs 1', metricsLog],
    ]) {
      expect(text, where).to.not.contain(COLLECTOR_SECRET);
      expect(text, where).to.not.contain('collector-secret');
      expect(text, where).to.not.contain(seed);
    }
  });

  it("the metrics process's command line and environment carry neither the collector credential nor its seed", () => {
    const pid = rows.find((r) => r.role === 'metrics').pid;
    expect(pid).to.be.a('number');
    const seed = JSON.parse(readFileSync(join(chain.layout.runDir, 'metrics.json'), 'utf8')).natsSeed as string;
    expect(seed).to.match(/^SU[A-Z2-7]+$/);
    for (const file of ['cmdline', 'environ']) {
      const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
      expect(text, file).to.not.contain(COLLECTOR_SECRET);
      expect(text, file).to.not.contain(seed);
    }
  });

  it('/metrics counts the request but names no path, trace, chain token or collector credential', async () => {
    let text = '';
    for (let i = 0; i < 100 && !text.includes('status_class="2xx"'); i++) {
      text = await (await fetch(metricsUrl)).text();
      if (!text.includes('status_class="2xx"')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).to.match(/moat_requests_total\{host="api\.anthropic\.com",status_class="2xx"[^}]*\} 1/);
    const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
    for (const secret of [PATH_SECRET, trace, token, COLLECTOR_SECRET, '/v1/models'])
      expect(text).to.not.contain(secret);
    // Anything but GET /metrics is refused, with no metrics in the answer.
    const other = await fetch(metricsUrl.replace('/metrics', '/v1/models'));
    expect(other.status).to.equal(404);
    expect(await other.text()).to.not.contain('moat_');
    const post = await fetch(metricsUrl, { method: 'POST', body: 'x' });
    expect(post.status).to.equal(405);
    expect(await post.text()).to.not.contain('moat_');
  });
});
