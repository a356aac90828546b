// events.sinks in moat.yaml: a bad address, an address off the machine without remote: true, sinks with a central
// ledger, too many sinks and a wrong protocol are refused with the file, line and key; good sinks reach the ledger
// writer's spec in the plan, files made absolute against moat.yaml's directory.
import { expect } from 'chai';
import { parseConfig } from '../../../../supervisor/config/load';
import { MoatError } from '../../../../supervisor/errors';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

function errorOf(text: string): string {
  try {
    parseConfig(text, 'moat.yaml');
  } catch (err) {
    if (err instanceof MoatError) return `${err.code} ${err.message}`;
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

const base = 'proxies: [moat-policy]\nevents:\n  sinks:\n';

describe('events.sinks config', () => {
  const cases: [string, string, string][] = [
    [
      'an address without a port',
      `${base}    - syslog: 127.0.0.1\n`,
      'MOAT_ERR_CONFIG_INVALID moat.yaml:4:7: events.sinks[0]: "127.0.0.1" is not host:port (an IPv6 address in brackets: [::1]:514)',
    ],
    [
      'an address off the machine without remote: true',
      `${base}    - syslog: 127.0.0.1:514\n    - syslog: siem.example.com:514\n      protocol: tcp\n`,
      'MOAT_ERR_CONFIG_INVALID moat.yaml:5:7: events.sinks[1]: siem.example.com is not this machine: findings go off ' +
        'the machine only with remote: true on the sink (loopback addresses and localhost need nothing)',
    ],
    [
      'sinks with a central ledger',
      'proxies: [moat-policy]\nevents:\n  nats_url: nats://a:4222\n  ledger: central\n  sinks:\n    - jsonl: f.jsonl\n',
      'MOAT_ERR_CONFIG_INVALID moat.yaml:6:5: events.sinks needs events.ledger: local',
    ],
    ['a protocol moat does not speak', `${base}    - syslog: 127.0.0.1:514\n      protocol: tls\n`, 'moat.yaml:5:'],
    ['a sink of no known kind', `${base}    - kafka: 127.0.0.1:9092\n`, 'moat.yaml:4:7: events.sinks[0].kafka'],
    [
      'a sink of two kinds',
      `${base}    - syslog: 127.0.0.1:514\n      jsonl: f.jsonl\n`,
      'MOAT_ERR_CONFIG_INVALID moat.yaml:4:7: events.sinks[0]: a sink is either syslog: HOST:PORT or jsonl: FILE',
    ],
    [
      'a syslog option on a file',
      `${base}    - jsonl: f.jsonl\n      protocol: tcp\n`,
      'MOAT_ERR_CONFIG_INVALID moat.yaml:4:7: events.sinks[0]: protocol goes with syslog, not jsonl',
    ],
    [
      'more than 8 sinks',
      base + '    - jsonl: f.jsonl\n'.repeat(9),
      'MOAT_ERR_CONFIG_INVALID moat.yaml:4:5: events.sinks: 9 sinks, at most 8',
    ],
  ];
  for (const [name, yaml, want] of cases)
    it(name, () => {
      expect(errorOf(yaml)).to.include(want);
    });

  it('good sinks go into the ledger writer spec of the plan', () => {
    const plan = planFromYaml(
      `${base}    - syslog: localhost:5514\n      protocol: tcp\n      facility: auth\n    - jsonl: out/f.jsonl\n` +
        '    - syslog: 10.1.2.3:514\n      remote: true\n',
      undefined,
      { file: '/cfg/moat.yaml' },
    );
    const ledger = plan.services.find((s) => s.role === 'ledger')!.ledger!;
    expect(ledger.sinks).to.deep.equal([
      { kind: 'syslog', host: '127.0.0.1', port: 5514, protocol: 'tcp', facility: 4, remote: false },
      { kind: 'jsonl', file: '/cfg/out/f.jsonl' },
      { kind: 'syslog', host: '10.1.2.3', port: 514, protocol: 'udp', facility: 16, remote: true },
    ]);
  });
});
