// Golden plans: a config in, the exact resolved plan out. UPDATE_GOLDEN=1 rewrites them.
import { expect } from 'chai';
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { displayPlan, linkToken } from '../../../../supervisor/chain/plan';
import { planFromYaml } from '../../../helpers/plan-from-yaml';
import { REPO_ROOT } from '../../../helpers/repo-root';
import { nextOf } from '../../../../hops/logic/onward';

const dir = join(REPO_ROOT, 'test', 'golden');

describe('golden plans', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    it(file, () => {
      const plan = planFromYaml(readFileSync(join(dir, file), 'utf8'), undefined, {
        file,
        home: '/moat-home',
        token: 'TOKEN',
        portBase: 20000,
      });
      const actual = JSON.stringify(displayPlan(plan, 'TOKEN'), null, 2) + '\n';
      const goldenFile = join(dir, file.replace('.yaml', '.plan.json'));
      if (process.env.UPDATE_GOLDEN || !existsSync(goldenFile)) writeFileSync(goldenFile, actual);
      expect(actual).to.equal(readFileSync(goldenFile, 'utf8'));
    });
  }

  it('starts egress first and ingress last, each forwarding to the next in chain order', () => {
    const plan = planFromYaml(readFileSync(join(dir, 'third-party.yaml'), 'utf8'), 'mixed');
    expect(plan.processes.map((p) => p.id)).to.deep.equal([
      '0-ingress',
      '1-moat-telemetry',
      '2-link',
      '2-tinyproxy',
      '3-link',
      '3-mitmdump',
      '4-moat-policy',
      '5-egress',
    ]);
    plan.processes.slice(0, -1).forEach((p, i) => expect(p.forwardsTo).to.equal(plan.processes[i + 1].id));
    expect(plan.ingressPort).to.equal(18080);
    const tiny = plan.processes.find((p) => p.id === '2-tinyproxy')!;
    const upstream = plan.processes.find((p) => p.id === '3-link')!;
    // tinyproxy holds the credential of the link after it, and that credential only: not the agent's token.
    const credential = linkToken('S', '3-link');
    expect(upstream.spec!.tokenFile).to.equal('/h/chains/mixed/links/3-link.token');
    expect(plan.linkTokens![upstream.spec!.tokenFile]).to.equal(credential);
    expect(tiny.files!['tinyproxy.conf']).to.contain(`Upstream http moat:${credential}@127.0.0.1:${upstream.port}`);
    expect(tiny.env).to.include({ HTTPS_PROXY: `http://moat:${credential}@127.0.0.1:${upstream.port}`, NO_PROXY: '' });
    expect(JSON.stringify(tiny)).to.not.contain('moat:T@');
  });

  it('the link in front of a hop that dials directly takes over what egress would do: allow list and extra CAs', () => {
    const plan = planFromYaml(
      'proxies:\n  - moat-telemetry\n  - tinyproxy\n  - use: agentreserve\n    isolation: none\negress:\n  ' +
        'allow: [api.example.com]\n  extra_ca: [/ca.pem]\n',
      'direct',
    );
    const links = plan.processes.filter((p) => p.role === 'link');
    expect(links.map((p) => [p.name, p.spec!.onward.kind])).to.deep.equal([
      ['tinyproxy', 'forward_hop'],
      ['agentreserve', 'last_hop'],
    ]);
    expect(links[1].spec!.onward).to.deep.include({ allow: ['api.example.com'], extraCa: ['/ca.pem'] });
    // It has no upstream, so it gets neither the next link's address nor the chain token.
    const direct = plan.processes.find((p) => p.role === 'third-party' && p.name === 'agentreserve')!;
    expect(JSON.stringify(direct)).to.not.contain('moat:T@');
    expect(direct.env).to.not.have.property('HTTPS_PROXY');
    expect(direct.env).to.include({ SSL_CERT_FILE: '/h/ca-bundle.pem' });
    const tiny = plan.processes.find((p) => p.role === 'third-party' && p.name === 'tinyproxy')!;
    expect(tiny.env!.HTTPS_PROXY).to.match(/^http:\/\/moat:[0-9a-f]{64}@127\.0\.0\.1:\d+$/);
  });

  it(
    'every listener has its own credential, held by the process before it; ' + "ingress alone takes the agent's token",
    () => {
      const yaml = readFileSync(join(dir, 'third-party.yaml'), 'utf8');
      const plan = planFromYaml(yaml, 'mixed');
      const moat = plan.processes.filter((p) => p.spec);
      expect(moat[0].spec!.tokenFile).to.equal('/h/chains/mixed/token');
      const files = moat.map((p) => p.spec!.tokenFile);
      expect(new Set(files).size).to.equal(files.length);
      const values = Object.values(plan.linkTokens!);
      // One per Moat listener but ingress, one per isolated hop's entrance, and the skip key (replay --skip-hop).
      const isolated = plan.processes.filter((p) => p.isolation === 'netns');
      expect(isolated.map((p) => p.entranceFile)).to.deep.equal(
        isolated.map((p) => `/h/chains/mixed/links/${p.id}.token`),
      );
      expect(new Set(values).size).to.equal(moat.length - 1 + isolated.length + 1);
      expect(values).to.not.include('T');
      // Each Moat process sends the next Moat process's credential; a link gives its third-party hop none.
      for (let i = 0; i < plan.processes.length - 1; i++) {
        const p = plan.processes[i];
        const next = plan.processes[i + 1];
        const door = p.spec && nextOf(p.spec.onward);
        if (door) expect(door.tokenFile).to.equal(next.spec?.tokenFile);
        if (door) expect(door.entranceFile).to.equal(next.entranceFile);
      }
      // Another secret, other credentials: they are new at every up.
      const again = planFromYaml(yaml, 'mixed', { linkSecret: 'S2' });
      expect(Object.values(again.linkTokens!)).to.not.include(values[0]);
      // None of them is shown.
      const shown = JSON.stringify(displayPlan(plan, 'T'));
      for (const v of values) expect(shown).to.not.contain(v);
      expect(shown).to.not.contain('linkTokens');
    },
  );

  it('a hop that dials directly, in a network namespace of its own, stands in the middle as a forward hop', () => {
    const plan = planFromYaml(
      'proxies:\n  - moat-telemetry\n  - use: agentreserve\n    isolation: netns\n  - moat-policy\negress:\n ' +
        ' allow: [api.example.com]\n',
      'netns',
    );
    expect(plan.processes.map((p) => p.id)).to.deep.equal([
      '0-ingress',
      '1-moat-telemetry',
      '2-link',
      '2-agentreserve',
      '3-moat-policy',
      '4-egress',
    ]);
    const hop = plan.processes.find((p) => p.id === '2-agentreserve')!;
    expect(hop).to.deep.include({ isolation: 'netns', dialsDirectly: true, forwardsTo: '3-moat-policy' });
    // The link in front does not stand in for egress: egress comes after the hop.
    expect(plan.processes.find((p) => p.id === '2-link')!.spec!.onward).to.deep.include({
      kind: 'forward_hop',
      dialsDirectly: true,
    });
    // The policy hop after it matches requests whose trace agentreserve dropped with the link in front of it.
    expect(plan.processes.find((p) => p.id === '3-moat-policy')!.spec!.afterHop!.link).to.include({
      hop: 2,
      name: 'agentreserve',
    });
    // Its connections get the token outside the namespace: the hop itself holds none.
    expect(JSON.stringify(hop)).to.not.contain('moat:T@');
    expect(hop.env).to.include({ SSL_CERT_FILE: '/h/ca-bundle.pem', NODE_EXTRA_CA_CERTS: '/h/ca.crt' });
    // moat-telemetry's innermost boundary is egress's, not the one in front of agentreserve.
    expect(plan.services.find((p) => p.id === 'metrics')!.metrics!.lastBoundary).to.equal(3);
  });

  it("no warning for a proxy that listens on every interface when it is isolated: those are the namespace's", () => {
    const yaml = (isolation: string) =>
      `proxies:\n  - name: wide\n    command: [wide, "{port}"]\n    listens_on_all_interfaces: true\n    ` +
      `isolation: ${isolation}\n`;
    const warnings = (isolation: string) => planFromYaml(yaml(isolation), 'w').warnings;
    expect(warnings('none')).to.have.length(2);
    expect(warnings('none')[1]).to.contain(
      'hop 1 (wide) has isolation: none: any local process can send into its port',
    );
    expect(warnings('netns')).to.deep.equal([]);
  });
});
