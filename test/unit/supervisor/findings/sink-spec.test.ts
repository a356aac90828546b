// Sink addresses: host:port parsed, loopback accepted, anything else only with remote: true; files made absolute.
import { expect } from 'chai';
import { isLoopbackHost, parseSinkAddress, parseSinkFlag, sinkSpec } from '../../../../supervisor/findings/sink-spec';
import { parseLedgerArgs } from '../../../../supervisor/ledger/cli';

describe('events.sinks specs', () => {
  const addresses: [string, { host: string; port: number } | RegExp][] = [
    ['127.0.0.1:514', { host: '127.0.0.1', port: 514 }],
    ['localhost:6514', { host: 'localhost', port: 6514 }],
    ['[::1]:514', { host: '::1', port: 514 }],
    ['siem.example.com:514', { host: 'siem.example.com', port: 514 }],
    ['127.0.0.1', /not host:port/],
    ['::1:514', /not host:port/],
    ['[nope]:514', /not host:port/],
    ['127.0.0.1:0', /port 0/],
    ['127.0.0.1:70000', /port 70000/],
  ];
  for (const [text, want] of addresses)
    it(`address ${text}`, () => {
      const got = parseSinkAddress(text);
      if (want instanceof RegExp) expect(got).to.match(want);
      else expect(got).to.deep.equal(want);
    });

  it('loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST'])
      expect(isLoopbackHost(h), h).to.equal(true);
    for (const h of ['10.0.0.1', '0.0.0.0', '::', 'localhost.evil.example', '127.0.0.1.nip.io', '128.0.0.1'])
      expect(isLoopbackHost(h), h).to.equal(false);
  });

  it('off the machine only with remote: true', () => {
    expect(sinkSpec({ syslog: '10.0.0.5:514' }, '/cfg')).to.match(/not this machine.*remote: true/);
    expect(sinkSpec({ syslog: 'localhost.evil.example:514', protocol: 'tcp' }, '/cfg')).to.match(/remote: true/);
    expect(sinkSpec({ syslog: '10.0.0.5:514', remote: true }, '/cfg')).to.deep.include({
      host: '10.0.0.5',
      remote: true,
    });
    expect(sinkSpec({ syslog: 'localhost:514', facility: 'auth' }, '/cfg')).to.deep.equal({
      kind: 'syslog',
      host: '127.0.0.1',
      port: 514,
      protocol: 'udp',
      facility: 4,
      remote: false,
    });
  });

  it('a JSON lines file relative to moat.yaml', () => {
    expect(sinkSpec({ jsonl: 'findings.jsonl' }, '/cfg')).to.deep.equal({ kind: 'jsonl', file: '/cfg/findings.jsonl' });
    expect(sinkSpec({ jsonl: '/var/x.jsonl' }, '/cfg')).to.deep.equal({ kind: 'jsonl', file: '/var/x.jsonl' });
  });
});

describe('moat ledger serve --sink', () => {
  const cases: [string, boolean, unknown][] = [
    [
      'syslog+udp://127.0.0.1:514',
      false,
      { kind: 'syslog', host: '127.0.0.1', port: 514, protocol: 'udp', facility: 16, remote: false },
    ],
    [
      'syslog+tcp://[::1]:6514',
      false,
      { kind: 'syslog', host: '::1', port: 6514, protocol: 'tcp', facility: 16, remote: false },
    ],
    ['jsonl:out.jsonl', false, { kind: 'jsonl', file: '/srv/out.jsonl' }],
    [
      'syslog+tcp://10.0.0.9:514',
      true,
      { kind: 'syslog', host: '10.0.0.9', port: 514, protocol: 'tcp', facility: 16, remote: true },
    ],
    [
      'syslog+tcp://10.0.0.9:514',
      false,
      /10\.0\.0\.9 is not this machine: findings go off the machine only with --sink-remote/,
    ],
    ['syslog://127.0.0.1:514', false, /expected syslog\+udp:\/\/HOST:PORT/],
    ['jsonl:', false, /expected/],
    ['syslog+udp://127.0.0.1', false, /not host:port/],
  ];
  for (const [text, remote, want] of cases)
    it(`${text}${remote ? ' --sink-remote' : ''}`, () => {
      const got = parseSinkFlag(text, remote, '/srv');
      if (want instanceof RegExp) expect(got).to.match(want);
      else expect(got).to.deep.equal(want);
    });

  it('reaches serve through its arguments', () => {
    const args = parseLedgerArgs(
      ['serve', '--sink', 'jsonl:a', '--sink', 'syslog+udp://127.0.0.1:1', '--sink-remote'],
      {},
    );
    expect(args.sinks).to.deep.equal(['jsonl:a', 'syslog+udp://127.0.0.1:1']);
    expect(args.sinkRemote).to.equal(true);
  });
});
