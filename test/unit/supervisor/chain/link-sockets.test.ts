// Which Moat processes take link TLS on a Unix socket (the ones after a Moat process), where the socket is, and how
// the process before each is told of it.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stateLayout } from '../../../../supervisor/chain/state';
import { planFromYaml } from '../../../helpers/plan-from-yaml';
import { REPO_ROOT } from '../../../helpers/repo-root';
import type { NextHop } from '../../../../hops/spec';

const mixed = () => readFileSync(join(REPO_ROOT, 'test', 'golden', 'third-party.yaml'), 'utf8');

describe('link sockets', () => {
  it("are in the chain's pm2 home, one per hop number", () => {
    const layout = stateLayout('c', '/home/u/.moat');
    expect(layout.linkSocketFile(3)).to.equal('/home/u/.moat/chains/c/pm2/link-3.sock');
    // A home too deep for pm2's own sockets: pm2's home, and the link sockets with it, move to the temporary directory.
    const deep = stateLayout('c', '/home/u/' + 'd'.repeat(90));
    expect(deep.pm2Home.startsWith(tmpdir())).to.equal(true);
    expect(deep.linkSocketFile(3)).to.equal(join(deep.pm2Home, 'link-3.sock'));
  });

  it('are left out when the path would not fit a socket address (108 bytes), counted in bytes', () => {
    // 60 characters of two bytes each: short enough for pm2's check of characters, too long in bytes.
    const layout = stateLayout('c', '/h/' + 'é'.repeat(60));
    expect(layout.pm2Home.length).to.be.below(100);
    expect(layout.linkSocketFile(3)).to.equal(undefined);
    const plan = planFromYaml(mixed(), 'mixed', { home: '/h/' + 'é'.repeat(60) });
    expect(plan.processes.filter((p) => p.spec?.socket)).to.have.length(0);
  });

  it('go to every Moat process after a Moat process, and the process before it is told', () => {
    const plan = planFromYaml(mixed(), 'mixed');
    const layout = stateLayout('mixed', '/h');
    const withSocket = plan.processes.filter((p) => p.spec?.socket).map((p) => p.id);
    // ingress is the agent's door (TCP); 3-link and 4-moat-policy come after a third-party hop, which speaks TCP only.
    expect(withSocket).to.deep.equal(['1-moat-telemetry', '2-link', '5-egress']);
    plan.processes.forEach((p, i) => {
      const next = plan.processes[i + 1];
      if (!p.spec || !next?.spec) return;
      expect(p.spec.onward.kind, p.id).to.equal('moat');
      const told = (p.spec.onward as { next: NextHop }).next;
      expect(told.socket, p.id).to.equal(layout.linkSocketFile(next.hop));
      expect(next.spec.socket, next.id).to.equal(told.socket);
    });
  });

  it('are not given to the process a third-party hop sends to, nor named in a door around a hop', () => {
    const plan = planFromYaml(mixed(), 'mixed');
    for (const p of plan.processes) {
      const onward = p.spec?.onward as { beyond?: NextHop; skip?: NextHop; next?: NextHop } | undefined;
      if (onward?.beyond) expect(onward.beyond.socket, p.id).to.equal(undefined);
      if (onward?.skip) expect(onward.skip.socket, p.id).to.equal(undefined);
      if (onward && p.spec!.onward.kind !== 'moat' && onward.next) expect(onward.next.socket, p.id).to.equal(undefined);
    }
  });
});
