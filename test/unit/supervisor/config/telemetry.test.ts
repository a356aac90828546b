// telemetry: into the plan: only moat-telemetry gets settings, the /metrics port is fixed or
// free, and OTLP headers (the collector's credentials) never show in plan output.
import { expect } from 'chai';
import { displayPlan } from '../../../../supervisor/chain/plan';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

const plan = (yaml: string) => planFromYaml(yaml, undefined, { file: 'moat.yaml', portBase: 40000 });

const OTLP =
  'telemetry:\n  otlp:\n    endpoint: http://127.0.0.1:4318/\n    headers: {authorization: "Bearer ' +
  'collector-secret"}\n';

describe('telemetry: in the plan', () => {
  it('moat-telemetry alone gets the settings; /metrics on a free port when metrics_port is not set', () => {
    const p = plan('proxies: [moat-telemetry, moat-policy]\n');
    const withSettings = p.processes.filter((x) => x.spec?.telemetry);
    expect(withSettings.map((x) => x.id)).to.deep.equal(['1-moat-telemetry']);
    const t = withSettings[0].spec!.telemetry!;
    expect(t).to.deep.equal({
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
    expect(p.processes.some((x) => x.spec?.telemetry)).to.equal(false);
  });

  it('prices and OTLP settings reach the hop; the header value is *** in what plan shows and writes', () => {
    const p = plan(`proxies: [moat-telemetry]\nprices:\n  gpt-4o: {input: 2.5, output: 10}\n${OTLP}`);
    const spec = p.processes[1].spec!.telemetry!;
    expect(spec.prices).to.deep.equal({ 'gpt-4o': { input: 2.5, output: 10 } });
    expect(spec.otlp).to.deep.equal({
      endpoint: 'http://127.0.0.1:4318/',
      intervalMs: 10000,
      headers: { authorization: 'Bearer collector-secret' },
    });
    const shown = JSON.stringify(displayPlan(p, 'T'));
    expect(shown).to.not.contain('collector-secret');
    expect(displayPlan(p, 'T').processes[1].spec!.telemetry!.otlp!.headers).to.deep.equal({ authorization: '***' });
    // The hop's own spec (written 0600 to run/<id>.json from the plan itself) keeps the value.
    expect(p.processes[1].spec!.telemetry!.otlp!.headers.authorization).to.equal('Bearer collector-secret');
  });
});
