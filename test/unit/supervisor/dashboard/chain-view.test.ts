// dashboard: in moat.yaml: planned as a service of the chain, with its own token file, or not at all.
import { expect } from 'chai';
import { parseConfig } from '../../../../supervisor/config/load';
import { stateLayout } from '../../../../supervisor/chain/state';
import { hopRefs } from '../../../../supervisor/dashboard/chain-view';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

const plan = (yaml: string) => planFromYaml(yaml, undefined, { file: 'moat.yaml' });

describe('dashboard in the plan', () => {
  it('is on by default: a service on a free loopback port, after nats-server and the ledger writer', () => {
    const p = plan('proxies: [moat-telemetry, moat-policy]\n');
    // moat-telemetry's metrics process comes after it.
    expect(p.services.map((s) => s.role)).to.deep.equal(['nats', 'ledger', 'dashboard', 'metrics']);
    const d = p.services[2];
    // Its port is chosen after every process of the chain's.
    expect(d.port).to.be.greaterThan(Math.max(...p.processes.map((x) => x.port)));
    expect(d.dashboard).to.deep.equal({
      chain: 'default',
      moatHome: '/h',
      natsUrl: p.natsUrl,
      host: '127.0.0.1',
      port: d.port,
      tokenFile: '/h/chains/default/dashboard-token',
      natsUser: 'dashboard',
    });
    // Its token is not the chain token.
    expect(d.dashboard!.tokenFile).to.not.equal(stateLayout('default', '/h').tokenFile);
  });

  it('takes a fixed port, or stays off', () => {
    expect(
      plan('proxies: [moat-telemetry]\ndashboard:\n  port: 8765\n').services.find((s) => s.role === 'dashboard')!.port,
    ).to.equal(8765);
    expect(plan('proxies: [moat-telemetry]\ndashboard:\n  enabled: false\n').services.map((s) => s.role)).to.deep.equal(
      ['nats', 'ledger', 'metrics'],
    );
  });

  it('rejects a port out of range and unknown keys, pointing at the line', () => {
    expect(() => parseConfig('proxies: [moat-telemetry]\ndashboard:\n  port: 70000\n', 'moat.yaml')).to.throw(
      /moat\.yaml:3:\d+: dashboard\.port/,
    );
    expect(() => parseConfig('proxies: [moat-telemetry]\ndashboard:\n  bind: 0.0.0.0\n', 'moat.yaml')).to.throw(
      /moat\.yaml:3:\d+: dashboard/,
    );
  });

  it('names the hops events carry: 1..N, a third-party hop once, egress last', () => {
    const p = plan('proxies:\n  - moat-telemetry\n  - name: tiny\n    command: [tinyproxy, -d]\n  - moat-policy\n');
    expect(hopRefs(p)).to.deep.equal([
      { hop: 1, name: 'moat-telemetry' },
      { hop: 2, name: 'tiny' },
      { hop: 3, name: 'moat-policy' },
      { hop: 4, name: 'egress' },
    ]);
  });
});
