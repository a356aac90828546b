// Findings of a chain with a central ledger: `moat ledger serve --sink` streams them as it stores their events (the
// chain has no ledger writer of its own, and refuses events.sinks). A nats-server with a password on 127.0.0.1, one
// chain whose moat-policy denies a request, serve with a syslog (UDP) and a JSON lines sink; all started and stopped
// here.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Serve, ledgerCli } from '../helpers/ledger-serve';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';
import { tmpDir } from '../helpers/tmp';
import { syslogListener, type SyslogListener } from '../helpers/syslog-listener';
import { passwordNats } from '../helpers/password-nats';

const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

describe('findings of a central ledger: moat ledger serve --sink', function () {
  this.timeout(180_000);
  const work = tmpDir('moat-fcentral-');
  const chain = new CliChain('central-findings');
  let provider: FakeProvider;
  let nats: ChildProcess;
  let natsUrl = '';
  let udp: SyslogListener;
  let serve: Serve;
  const config = (sinks = '') => `name: central-findings
proxies: [moat-policy]
dashboard:
  enabled: false
policy:
  rules:
    - id: no-evil
      match: "evil.example.com/*"
      action: deny
events:
  nats_url: ${natsUrl}
  ledger: central
${sinks}${egressTo(provider.port, ['api.anthropic.com', 'evil.example.com'])}
`;

  before(async () => {
    provider = await new FakeProvider().start();
    udp = await syslogListener('udp');
    ({ process: nats, url: natsUrl } = await passwordNats(join(work.path, 'nats'), PASSWORD));
  });

  after(async () => {
    await serve?.kill('SIGKILL');
    await chain.cleanup();
    nats?.kill('SIGKILL');
    await provider?.stop();
    await udp?.close();
    work.remove();
  });

  it('a chain with a central ledger refuses events.sinks, naming serve --sink', async () => {
    chain.writeConfig(config('  sinks:\n    - jsonl: f.jsonl\n'));
    const res = await chain.cli(['plan']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('events.sinks needs events.ledger: local').and.contain('moat ledger serve --sink');
  });

  it('serve streams the denial to syslog and to the JSON lines file as it stores it', async () => {
    chain.writeConfig(config());
    const up = await chain.up();
    expect(up.code, up.stderr).to.equal(0);
    const file = join(work.path, 'central.jsonl');
    serve = new Serve(
      ['--dir', join(work.path, 'ledgers'), '--sink', `syslog+udp://127.0.0.1:${udp.port}`, '--sink', `jsonl:${file}`],
      { MOAT_NATS_URL: natsUrl },
    );
    await serve.start();
    const agent = await chain.agent();
    try {
      expect((await timedRequest(agent, 'https://evil.example.com/x')).status).to.equal(403);
    } finally {
      await agent.close();
    }
    const m = await udp.waitFor((x) => x.includes('policy_denied'), 30_000);
    expect(m).to.include('chain="central-findings"').and.include('rule="no-evil"');
    let lines: string[] = [];
    for (let i = 0; i < 50 && lines.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        lines = [];
      }
    }
    expect(lines.map((l) => JSON.parse(l).code)).to.deep.equal(['policy_denied']);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(serve.output).to.contain('findings go to syslog udp 127.0.0.1');
    expect(serve.output).not.to.contain(PASSWORD);
  });

  it('serve refuses a sink off the machine without --sink-remote', async () => {
    const bad = await ledgerCli(['serve', '--dir', join(work.path, 'other'), '--sink', 'syslog+tcp://192.0.2.7:514'], {
      MOAT_NATS_URL: natsUrl,
    });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('192.0.2.7 is not this machine').and.contain('--sink-remote');
  });
});
