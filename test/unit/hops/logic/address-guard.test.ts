// The addresses egress connects to (hops/logic/address-guard.ts), the lookup that checks them
// (hops/runtime/egress-dial.ts), and which hosts a config names exactly (namedExactly). Private and metadata addresses
// are tested here only, on the pure decision: no test connects to them.
import { expect } from 'chai';
import type dns from 'node:dns';
import {
  addressAllowed,
  addressRefusal,
  classifyAddress,
  parseAddress,
  type AddressClass,
} from '../../../../hops/logic/address-guard';
import { AddressRefusedError, guardDial, guardedLookup } from '../../../../hops/runtime/egress-dial';
import { namedExactly } from '../../../../hops/logic/egress-allow';
import { describeFailure } from '../../../../hops/logic/failure';
import { parseConfig } from '../../../../supervisor/config/load';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

describe('address guard', () => {
  const table: [string, AddressClass][] = [
    // loopback, every spelling a resolver or an agent can give
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
    ['::FFFF:7F00:0001', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['::ffff:0:127.0.0.1', 'loopback'], // IPv4-translated (RFC 2765)
    ['64:ff9b::7f00:1', 'loopback'], // NAT64 of 127.0.0.1
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['2002:7f00:1::1', 'loopback'], // 6to4 of 127.0.0.1
    // unspecified
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:0.0.0.0', 'unspecified'],
    // link-local
    ['169.254.1.1', 'link_local'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf::1', 'link_local'],
    // cloud metadata, also inside the private ranges a switch opens
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['169.254.170.23', 'metadata'],
    ['169.254.0.23', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['fd00:0ec2:0000:0000:0000:0000:0000:0254', 'metadata'],
    ['fd00:ec2::23', 'metadata'],
    // private
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['198.18.0.1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fec0::1', 'private'],
    ['64:ff9b:1::1', 'private'],
    // not unicast on the internet
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['::7f00:1', 'reserved'], // IPv4-compatible: not routed as IPv4 any more
    ['::1.2.3.4', 'reserved'],
    // public, including the neighbours of every range above
    ['1.1.1.1', 'public'],
    ['8.8.8.8', 'public'],
    ['126.255.255.255', 'public'],
    ['128.0.0.1', 'public'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['192.167.255.255', 'public'],
    ['100.63.255.255', 'public'],
    ['100.128.0.0', 'public'],
    ['169.253.255.255', 'public'],
    ['169.255.0.0', 'public'],
    ['223.255.255.255', 'public'],
    ['2606:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::808:808', 'public'], // NAT64 of a public address
    ['2002:808:808::1', 'public'],
    ['fe00::1', 'public'],
    // no address at all: refused (fail closed)
    ['', 'reserved'],
    ['localhost', 'reserved'],
    ['1.2.3', 'reserved'],
    ['256.1.1.1', 'reserved'],
    ['1:2:3:4:5:6:7:8:9', 'reserved'],
    ['1::2::3', 'reserved'],
    ['::ffff:1.2.3.999', 'reserved'],
  ];

  it('classifies every spelling as the address it reaches', () => {
    for (const [address, cls] of table) expect(classifyAddress(address), address).to.equal(cls);
  });

  it('parses IPv6 as Node does (compressed, embedded IPv4, leading zeros)', () => {
    expect(parseAddress('::ffff:127.0.0.1')).to.deep.equal(parseAddress('::ffff:7f00:1'));
    expect(parseAddress('1:2:3:4:5:6:7:8')).to.deep.equal([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    expect(parseAddress('1::')).to.deep.equal([0, 1, ...Array(14).fill(0)]);
    expect(parseAddress('1:2:3:4:5:6:7::')).to.not.equal(undefined);
    expect(parseAddress('1:2:3:4:5:6:7:8::')).to.equal(undefined);
  });

  it('allows public addresses, what a host named exactly resolves to, private ranges only with the switch', () => {
    const rows: [AddressClass, boolean, boolean, boolean][] = [
      // class, named, allowPrivate, allowed
      ['public', false, false, true],
      ['loopback', false, false, false],
      ['loopback', false, true, false],
      ['loopback', true, false, true],
      ['unspecified', false, true, false],
      ['link_local', false, true, false],
      ['metadata', false, true, false],
      ['metadata', true, false, true],
      ['private', false, false, false],
      ['private', false, true, true],
      ['private', true, false, true],
      ['multicast', false, true, false],
      ['reserved', false, true, false],
    ];
    for (const [cls, named, allowPrivate, allowed] of rows)
      expect(addressAllowed(cls, { named, allowPrivate }), `${cls} named=${named} private=${allowPrivate}`).to.equal(
        allowed,
      );
    expect(addressRefusal('100.100.100.200', { named: false, allowPrivate: true })).to.equal('metadata');
    expect(addressRefusal('fd00:ec2::254', { named: false, allowPrivate: true })).to.equal('metadata');
    expect(addressRefusal('10.1.2.3', { named: false, allowPrivate: true })).to.equal(undefined);
  });

  describe('the lookup egress connects with', () => {
    // A resolver the test controls: no query leaves this process.
    const answering = (answers: dns.LookupAddress[]) =>
      ((_host: string, _o: unknown, cb: (e: Error | null, a: dns.LookupAddress[]) => void) =>
        cb(null, answers)) as unknown as typeof dns.lookup;
    const lookup = (answers: dns.LookupAddress[], all: boolean, allowPrivate = false) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
        guardedLookup(allowPrivate, answering(answers))('rebind.test', { all }, (err, address, family) =>
          resolve({ err, address, family }),
        ),
      );

    it('refuses a name that resolves to this machine, naming egress and the class', async () => {
      const { err } = await lookup([{ address: '127.0.0.1', family: 4 }], false);
      expect(err).to.be.instanceOf(AddressRefusedError);
      expect(err!.code).to.equal('MOAT_EGRESS_ADDRESS_REFUSED');
      expect(err!.message).to.equal(
        'egress refused to connect to rebind.test: it resolves to a loopback address (this machine), which ' +
          'only a host egress.allow or egress.resolve names exactly reaches (a glob is not enough)',
      );
      const all = await lookup(
        [
          { address: '::ffff:7f00:1', family: 6 },
          { address: '169.254.169.254', family: 4 },
        ],
        true,
      );
      expect(all.err?.message).to.contain('loopback');
    });

    it('keeps only the answers egress may reach (happy eyeballs asks for all), in both answer forms', async () => {
      const mixed = [
        { address: '10.0.0.5', family: 4 },
        { address: '93.184.215.14', family: 4 },
        { address: '::1', family: 6 },
      ];
      expect((await lookup(mixed, true)).address).to.deep.equal([{ address: '93.184.215.14', family: 4 }]);
      expect(await lookup(mixed, false)).to.deep.include({ err: null, address: '93.184.215.14', family: 4 });
      expect((await lookup(mixed, true, true)).address).to.deep.equal([
        { address: '10.0.0.5', family: 4 },
        { address: '93.184.215.14', family: 4 },
      ]);
      const priv = await lookup([{ address: '192.168.0.10', family: 4 }], false);
      expect(priv.err?.message)
        .to.contain('a private network address')
        .and.contain('egress.allow_private_addresses: true');
    });

    it('checks an IP literal before the socket is made (Node connects to one without a lookup)', () => {
      expect(guardDial({ host: '127.0.0.1', port: 1 }, false)).to.be.instanceOf(AddressRefusedError);
      expect(guardDial({ host: '::ffff:7f00:1', port: 1 }, true)).to.be.instanceOf(AddressRefusedError);
      expect(guardDial({ host: '10.0.0.1', port: 1 }, false)).to.be.instanceOf(AddressRefusedError);
      expect(guardDial({ host: '10.0.0.1', port: 1 }, true)).to.have.property('lookup');
      expect(guardDial({ host: 'api.example.test', port: 1 }, false)).to.have.property('lookup');
    });

    it('fails closed as 403 egress_address_refused', () => {
      const failure = describeFailure(
        new AddressRefusedError('169.254.169.254', 'metadata'),
        false,
        undefined,
        '169.254.169.254',
      );
      expect(failure).to.deep.include({ status: 403, error: 'egress_address_refused' });
      // The message is the sentence for the agent (hops/logic/agent-hint.ts), with the refusal's reason inside.
      expect(failure.message)
        .to.match(/^moat denied a connection to 169\.254\.169\.254 \(egress address guard: /)
        .and.contain(
          'egress refused to connect to 169.254.169.254: it is a cloud metadata service address, which only ' +
            'a host egress.allow or egress.resolve names exactly reaches (a glob is not enough)',
        )
        .and.contain('fails too');
    });
  });

  it('a host is named exactly by an egress.allow entry (not a glob) or an egress.resolve key', () => {
    const egress = {
      allow: ['*', '*.example.test', 'Exact.Example.Test', '127.0.0.1'],
      resolve: { 'api.anthropic.com:443': '127.0.0.1:9', 'any-port.test': '127.0.0.1' },
    };
    expect(namedExactly(egress, 'exact.example.test', 443)).to.equal(true);
    expect(namedExactly(egress, 'exact.example.test.', 443)).to.equal(true);
    expect(namedExactly(egress, '127.0.0.1', 80)).to.equal(true);
    expect(namedExactly(egress, 'api.anthropic.com', 443)).to.equal(true);
    expect(namedExactly(egress, 'any-port.test', 8443)).to.equal(true);
    expect(namedExactly(egress, 'api.anthropic.com', 8443)).to.equal(false);
    expect(namedExactly(egress, 'other.example.test', 443)).to.equal(false);
    expect(namedExactly(egress, 'rebind.test', 443)).to.equal(false);
  });

  it('egress.allow_private_addresses reaches egress (off unless the config says true)', () => {
    const egressOf = (yaml: string) => {
      const plan = planFromYaml(yaml, 'a', { file: 'moat.yaml', portBase: 40000 });
      return plan.processes.find((p) => p.role === 'egress')!.spec!.egress!;
    };
    expect(egressOf('proxies: []\n').allowPrivateAddresses).to.equal(undefined);
    expect(egressOf('proxies: []\negress:\n  allow_private_addresses: true\n').allowPrivateAddresses).to.equal(true);
    expect(() => parseConfig('proxies: []\negress:\n  allow_private_addresses: yes please\n', 'moat.yaml')).to.throw(
      /egress.allow_private_addresses/,
    );
  });
});
