// Which Moat processes take link TLS on an abstract Unix socket (the ones after a Moat process), what the socket is
// called, and how the process before each is told of it.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { linkSocketName } from '../../../../supervisor/chain/plan';
import { planFromYaml } from '../../../helpers/plan-from-yaml';
import { REPO_ROOT } from '../../../helpers/repo-root';
import type { NextHop } from '../../../../hops/spec';

const mixed = () => readFileSync(join(REPO_ROOT, 'test', 'golden', 'third-party.yaml'), 'utf8');

describe('link sockets', () => {
  it('are named from the link secret drawn at `up`: nobody can know a name before, nor one from another', () => {
    const name = linkSocketName('S', '5-egress');
    // Every byte of sun_path after the NUL: Node 20 and Node 22 then bind the same address (Node 20 pads shorter ones).
    expect(name).to.match(/^moat-link-[0-9a-f]{97}$/);
    expect(Buffer.byteLength(`\0${name}`)).to.equal(108);
    expect(linkSocketName('S2', '5-egress')).to.not.equal(name);
    expect(linkSocketName('S', '4-moat-policy')).to.not.equal(name);
    const plan = planFromYaml(mixed(), 'mixed', { linkSecret: 'S' });
    const egress = plan.processes.find((p) => p.id === '5-egress')!;
    expect(egress.spec!.socket).to.equal(name);
    // Not a piece of the listener's credential.
    const egressToken = plan.linkTokens![egress.spec!.tokenFile];
    expect(egressToken).to.be.a('string');
    expect(name).to.not.contain(egressToken.slice(0, 16));
    expect(egressToken).to.not.contain(name.slice('moat-link-'.length, 'moat-link-'.length + 16));
  });

  it('go to every Moat process after a Moat process, and the process before it is told', () => {
    const plan = planFromYaml(mixed(), 'mixed');
    const withSocket = plan.processes.filter((p) => p.spec?.socket).map((p) => p.id);
    // ingress is the agent's door (TCP); 3-link and 4-moat-policy come after a third-party hop, which speaks TCP only.
    expect(withSocket).to.deep.equal(['1-moat-telemetry', '2-link', '5-egress']);
    plan.processes.forEach((p, i) => {
      const next = plan.processes[i + 1];
      if (!p.spec || !next?.spec) return;
      expect(p.spec.onward.kind, p.id).to.equal('moat');
      const told = (p.spec.onward as { next: NextHop }).next;
      expect(told.socket, p.id).to.equal(linkSocketName('S', next.id));
      expect(next.spec.socket, next.id).to.equal(told.socket);
    });
  });

  it('are not named in a door around a hop, nor to a third-party hop', () => {
    const plan = planFromYaml(mixed(), 'mixed');
    for (const p of plan.processes) {
      const onward = p.spec?.onward as { beyond?: NextHop; skip?: NextHop; next?: NextHop } | undefined;
      if (onward?.beyond) expect(onward.beyond.socket, p.id).to.equal(undefined);
      if (onward?.skip) expect(onward.skip.socket, p.id).to.equal(undefined);
      if (onward && p.spec!.onward.kind !== 'moat' && onward.next) expect(onward.next.socket, p.id).to.equal(undefined);
    }
  });
});
