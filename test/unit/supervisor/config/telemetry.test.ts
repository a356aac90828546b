// telemetry: into the plan: moat-telemetry's metrics process is a service of its own (no hop gets the settings), the
// /metrics port is fixed or free, and OTLP headers (the collector's credentials) never show in plan output.
import { expect } from 'chai';
import { displayPlan } from '../../../../supervisor/chain/plan';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

const plan = (yaml: string) => planFromYaml(yaml, undefined, { file: 'moat.yaml', portBase: 40000 });

const OTLP =
  'telemetry:\n  otlp:\n    endpoint: http://127.0.0.1:4318/\n    headers: {authorization: "Bearer ' +
  'collector-secret"}\n';

describe('telemetry: in the plan', () => {
  it('a metrics process of its own gets the settings, off the request path; /metrics on a free port by default', () => {
    const p = plan('proxies: [moat-telemetry, moat-policy]\n');
    const withSettings = p.services.filter((x) => x.metrics);
    expect(withSettings.map((x) => [x.id, x.role, x.hop])).to.deep.equal([['metrics', 'metrics', -1]]);
    const t = withSettings[0].metrics!;
    expect(withSettings[0].port).to.equal(t.metricsPort);
    // No process on the request path reads the chain's events.
    for (const x of p.processes) expect(JSON.stringify(x.spec ?? {})).to.not.contain('metricsPort');
    expect(t).to.deep.equal({
      chain: 'default',
      natsUrl: p.natsUrl,
      metricsPort: t.metricsPort,
      lastBoundary: 2,
      prices: {},
      natsUser: 'telemetry',
    });
    expect(p.processes.map((x) => x.port)).to.not.include(t.metricsPort);
    expect(p.metricsUrl).to.equal(`http://127.0.0.1:${t.metricsPort}/metrics`);
  });

  it('a chain without moat-telemetry serves no metrics', () => {
    const p = plan('proxies: [moat-policy]\n');
    expect(p.metricsUrl).to.equal(undefined);
    expect(p.services.some((x) => x.metrics || x.role === 'metrics')).to.equal(false);
  });

  it('prices and OTLP settings reach the metrics process; the header value is *** in what plan shows and writes', () => {
    const p = plan(`proxies: [moat-telemetry]\nprices:\n  gpt-4o: {input: 2.5, output: 10}\n${OTLP}`);
    const metricsOf = (x: typeof p) => x.services.find((s) => s.metrics)!.metrics!;
    const spec = metricsOf(p);
    expect(spec.prices).to.deep.equal({ 'gpt-4o': { input: 2.5, output: 10 } });
    expect(spec.otlp).to.deep.equal({
      endpoint: 'http://127.0.0.1:4318/',
      intervalMs: 10000,
      headers: { authorization: 'Bearer collector-secret' },
    });
    const shown = JSON.stringify(displayPlan(p, 'T'));
    expect(shown).to.not.contain('collector-secret');
    expect(metricsOf(displayPlan(p, 'T')).otlp!.headers).to.deep.equal({ authorization: '***' });
    // The process's own spec (written 0600 to run/metrics.json from the plan itself) keeps the value.
    expect(spec.otlp!.headers.authorization).to.equal('Bearer collector-secret');
  });
});
