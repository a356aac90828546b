// Findings are read by security tooling, often off the machine: nothing in them may carry a secret, and a sink cannot
// be pointed off the machine or through a planted link. Attacks: secrets of every DLP shape in the fields a finding
// copies (a reason quoting what an upstream said, a path: the agent's own), then every output (SARIF, JSON, table,
// syslog, the JSON lines sink) searched for them; a sink address off the machine, by address or by a name that looks
// local; a symbolic link planted where the JSON lines file goes.
import { expect } from 'chai';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MoatEvent } from '../../schemas/generated/event';
import { findingsOf } from '../../supervisor/findings/finding';
import { toSarif } from '../../supervisor/findings/sarif';
import { findingsTable } from '../../supervisor/findings/findings-command';
import { syslogMessage } from '../../supervisor/findings/syslog';
import { startSinks } from '../../supervisor/findings/sinks';
import { parseConfig } from '../../supervisor/config/load';
import { fake, pemKey } from '../helpers/fake-secrets';
import { tmpDir } from '../helpers/tmp';

const SECRETS = [
  fake.awsAccessKey(),
  fake.openAiKey(),
  fake.anthropicKey(),
  fake.githubToken(),
  fake.slackBotToken(),
  fake.stripeKey(),
  fake.googleApiKey(),
  pemKey('RSA ', 2),
];

function leaky(secret: string, i: number): MoatEvent[] {
  const base = {
    chain: 'c',
    hop: 2,
    hop_name: 'moat-policy',
    boundary: 1,
    direction: 'response' as const,
    time: '2026-12-05T10:00:00.000Z',
    method: 'POST',
    scheme: 'https' as const,
    host: 'api.example.com',
    port: 443,
  };
  return [
    {
      ...base,
      id: `a${i}`,
      trace: `ta${i}`,
      error: 'hop_error',
      status: 500,
      path: '/x',
      reason: `upstream said: ${secret}`,
    },
    {
      ...base,
      id: `b${i}`,
      trace: `tb${i}`,
      decision: 'deny',
      error: 'dlp_blocked',
      rule: 'dlp',
      path: `/v1/${encodeURIComponent(secret)}/y`,
      reason: 'request path contains aws_access_key',
    },
    {
      ...base,
      id: `c${i}`,
      trace: `tc${i}`,
      decision: 'would_deny',
      rule: 'trial',
      path: `/p/${secret.split('\n')[0]}`,
      status: 200,
    },
  ];
}

describe('security: findings never carry a secret, sinks stay on the machine', function () {
  this.timeout(20_000);
  const dir = tmpDir('moat-fsec-');
  after(() => dir.remove());

  it('a secret in a reason or a path reaches no SARIF, JSON, table, syslog or JSON lines output', async () => {
    const events = SECRETS.flatMap(leaky);
    const findings = findingsOf(events);
    expect(findings).to.have.length(events.length);
    const file = join(dir.path, 'out.jsonl');
    const [sink] = startSinks([{ kind: 'jsonl', file }], () => undefined);
    sink.push(findings);
    await sink.close();
    const outputs: Record<string, string> = {
      sarif: JSON.stringify(toSarif(findings, { version: '0', chain: 'c' })),
      json: JSON.stringify(findings),
      table: findingsTable(findings),
      syslog: findings.map((f) => syslogMessage(f, { hostname: 'h', facility: 16 })).join('\n'),
      jsonl: readFileSync(file, 'utf8'),
    };
    for (const [name, text] of Object.entries(outputs))
      for (const secret of SECRETS) {
        for (const part of [secret, encodeURIComponent(secret), secret.split('\n')[1] ?? secret])
          expect(text, `${name} holds ${part.slice(0, 12)}...`).not.to.include(part);
      }
    expect(outputs.sarif).to.include('[REDACTED');
  });

  const refused = (sink: string) => {
    const yaml = `proxies: [moat-policy]\nevents:\n  sinks:\n    - ${sink}\n`;
    try {
      parseConfig(yaml, 'moat.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };

  it('a syslog address off the machine is refused unless the sink says remote: true', () => {
    for (const address of [
      '203.0.113.9:514',
      '10.0.0.1:514',
      '[2001:db8::1]:514',
      'localhost.attacker.example:514',
      '127.0.0.1.nip.io:514',
      '0.0.0.0:514',
    ])
      expect(refused(`syslog: "${address}"`), address).to.include('is not this machine');
    expect(refused('syslog: "203.0.113.9:514"\n      remote: true')).to.equal('');
    expect(refused('syslog: "127.0.0.1:514"')).to.equal('');
  });

  it('a sink spec edited after the plan to point off the machine sends nothing', async () => {
    const lines: string[] = [];
    const [sink] = startSinks(
      [{ kind: 'syslog', host: '203.0.113.9', port: 514, protocol: 'tcp', facility: 16, remote: false }],
      (l) => lines.push(l),
    );
    sink.push(findingsOf(leaky('x', 0)));
    await sink.close(300);
    expect(lines.join('\n')).to.include('refused: 203.0.113.9 is not this machine');
  });

  it('a symbolic link planted at the JSON lines path is not written through', async () => {
    const victim = join(dir.path, 'victim');
    writeFileSync(victim, 'keep\n');
    const link = join(dir.path, 'planted.jsonl');
    symlinkSync(victim, link);
    const lines: string[] = [];
    const [sink] = startSinks([{ kind: 'jsonl', file: link }], (l) => lines.push(l));
    sink.push(findingsOf(leaky('x', 1)));
    await sink.close(300);
    expect(readFileSync(victim, 'utf8')).to.equal('keep\n');
    expect(existsSync(link)).to.equal(true);
    expect(lines.join('\n')).to.match(/ELOOP/);
  });
});
