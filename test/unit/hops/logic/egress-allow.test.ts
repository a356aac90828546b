// egress.allow at the last Moat process on the way out, and the machine's own addresses, which a glob never opens.
import { expect } from 'chai';
import { egressRefusal, isLocalHost } from '../../../../hops/logic/egress-allow';

describe('egress.allow', () => {
  const egress = (allow: string[]) => ({
    role: 'egress' as const,
    hop: 3,
    name: 'egress',
    egress: { allow, resolve: {}, extraCa: [], timeoutMs: 1000 },
    onward: { kind: 'internet' as const },
  });

  it('knows the addresses of this machine and its link', () => {
    const local = [
      '127.0.0.1',
      '127.8.9.1',
      '0.0.0.0',
      '169.254.169.254',
      '::1',
      '[::1]',
      '::',
      'fe80::1',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST',
      'x.localhost',
    ];
    const remote = ['10.0.0.1', '198.18.0.1', 'api.anthropic.com', '2001:db8::1', 'localhost.example.com', '128.0.0.1'];
    for (const h of local) expect(isLocalHost(h), h).to.equal(true);
    for (const h of remote) expect(isLocalHost(h), h).to.equal(false);
  });

  it('allows what a glob matches, refuses the rest naming the list', () => {
    expect(egressRefusal(egress(['*.anthropic.com']), 'api.anthropic.com')).to.equal(undefined);
    expect(egressRefusal(egress(['*.anthropic.com']), 'evil.test')).to.deep.equal({
      error: 'egress_denied',
      message: 'egress may not connect to evil.test (egress.allow: *.anthropic.com)',
    });
  });

  it("never lets a glob reach this machine (the chain's own NATS, local daemons): only an exact entry does", () => {
    for (const host of ['127.0.0.1', 'localhost', '169.254.169.254', '::1']) {
      expect(egressRefusal(egress(['*']), host)?.message, host).to.contain(
        'an address of this machine, unless egress.allow names it exactly',
      );
    }
    expect(egressRefusal(egress(['127.0.0.1', 'localhost']), '127.0.0.1')).to.equal(undefined);
    expect(egressRefusal(egress(['127.0.0.1', 'localhost']), 'LocalHost')).to.equal(undefined);
  });

  it(
    'applies at the link in front of a hop that dials ' + 'directly, naming that hop; other processes are not asked',
    () => {
      const link = {
        role: 'link' as const,
        hop: 2,
        name: 'agentreserve',
        onward: {
          kind: 'last_hop' as const,
          next: { port: 1, hop: 2, name: 'agentreserve' },
          allow: ['api.anthropic.com'],
          extraCa: [],
        },
      };
      expect(egressRefusal(link, 'evil.test')?.message).to.equal(
        'hop 2 (agentreserve), which connects to destinations itself, may not connect to evil.test (egress.allow: ' +
          'api.anthropic.com)',
      );
      const builtin = { role: 'builtin' as const, hop: 1, name: 'moat-policy' };
      const next = { port: 1, hop: 2, name: 'egress', moat: true };
      expect(egressRefusal({ ...builtin, onward: { kind: 'moat', next } }, '127.0.0.1')).to.equal(undefined);
    },
  );
});
