// One spelling of a host for every decision (issue 16, hosts): table-driven, no sockets.
import { expect } from 'chai';
import { canonicalHost } from '../../../../hops/logic/canonical-host';
import { egressRefusal, isLocalHost } from '../../../../hops/logic/egress-allow';
import { parseAuthority } from '../../../../hops/runtime/link-server';
import { parseBasePath } from '../../../../hops/logic/scope';

const CASES: [string, string | undefined][] = [
  ['api.example.test', 'api.example.test'],
  ['API.Example.TEST', 'api.example.test'],
  ['blocked.example.test.', 'blocked.example.test'],
  ['Blocked.Example.Test.', 'blocked.example.test'],
  ['bücher.example', 'xn--bcher-kva.example'],
  ['127.0.0.1', '127.0.0.1'],
  ['2130706433', '127.0.0.1'],
  ['0x7f.1', '127.0.0.1'],
  ['127.1', '127.0.0.1'],
  ['017700000001', '127.0.0.1'],
  ['0x7f000001', '127.0.0.1'],
  ['[::ffff:127.0.0.1]', '127.0.0.1'],
  ['[::ffff:7f00:1]', '127.0.0.1'],
  ['::ffff:7f00:1', '127.0.0.1'],
  ['[0:0:0:0:0:ffff:7f00:1]', '127.0.0.1'],
  ['[::FFFF:A9FE:A9FE]', '169.254.169.254'],
  ['[::1]', '::1'],
  ['::1', '::1'],
  ['[2001:DB8::1]', '2001:db8::1'],
  ['[0:0:0:0:0:0:0:1]', '::1'],
  ['', undefined],
  ['.', undefined],
  ['a b', undefined],
  ['[zz::1]', undefined],
];

describe('canonical hosts', () => {
  for (const [given, want] of CASES) {
    it(`${JSON.stringify(given)} -> ${JSON.stringify(want)}`, () => expect(canonicalHost(given)).to.equal(want));
  }

  it('CONNECT and base-URL authorities are read in the canonical form', () => {
    expect(parseAuthority('Blocked.Example.Test.:443')).to.deep.equal({ host: 'blocked.example.test', port: 443 });
    expect(parseAuthority('[::ffff:7f00:1]:4222')).to.deep.equal({ host: '127.0.0.1', port: 4222 });
    expect(parseAuthority('2130706433:80')).to.deep.equal({ host: '127.0.0.1', port: 80 });
    expect(parseBasePath('/_moat/ab/https/API.Example.Test./v1')).to.deep.include({
      host: 'api.example.test',
      port: 443,
      path: '/v1',
    });
  });

  it('every spelling of this machine is local, and a glob never lets it through egress', () => {
    const spec = {
      role: 'egress' as const,
      hop: 3,
      name: 'egress',
      egress: { allow: ['*'], resolve: {}, extraCa: [], timeoutMs: 1000 },
      onward: { kind: 'internet' as const },
    };
    for (const host of [
      '127.0.0.1',
      '::ffff:7f00:1',
      '[::ffff:127.0.0.1]',
      '::ffff:127.0.0.1',
      '2130706433',
      '0x7f.1',
      'localhost.',
      '[::1]',
      '::ffff:a9fe:a9fe',
      '0.0.0.0',
    ]) {
      expect(isLocalHost(host), host).to.equal(true);
      expect(egressRefusal(spec, host)?.error, host).to.equal('egress_denied');
    }
    for (const host of ['api.example.test', '2001:db8::1', '93.184.216.34'])
      expect(isLocalHost(host), host).to.equal(false);
  });
});
