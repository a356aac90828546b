// Findings end to end, in a real chain: moat-policy denies a request by a rule, blocks one by DLP and lets a
// report-mode rule's request through; a syslog receiver over UDP and one over TCP (127.0.0.1, port 0, started and
// stopped here) get the DLP finding as it happens, a JSON lines sink file gets every finding (0600); `moat chain
// findings --sarif` writes a log the SARIF 2.1.0 schema accepts, with the same fingerprints on a second run; --json and
// the table list the same findings. The secret of the blocked request is in none of them.
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { syslogListener, type SyslogListener } from '../helpers/syslog-listener';
import { sarifErrors } from '../helpers/sarif-schema';
import { fake } from '../helpers/fake-secrets';
import type { ProxyAgent } from 'undici';

const HOSTS = ['open.example.com', 'evil.example.com', 'trial.example.com'];
const KEY = fake.awsAccessKey();
// A value no detector knows, in a query parameter named like a credential: the recorded path drops the query.
const QUERY_SECRET = fake.password().slice(0, 14);

describe('moat chain findings and events.sinks', function () {
  this.timeout(180_000);
  let udp: SyslogListener;
  let tcp: SyslogListener;
  let agent: ProxyAgent | undefined;
  before(async () => {
    udp = await syslogListener('udp');
    tcp = await syslogListener('tcp');
  });
  const { chain, provider } = chainFixture({
    config: (p) => `proxies: [moat-telemetry, moat-policy]
capture:
  bodies: full
policy:
  rules:
    - id: no-evil
      match: "evil.example.com/*"
      action: deny
      reason: not that host
    - id: trial
      match: "trial.example.com/*"
      action: deny
      mode: report
      reason: trying a deny rule
events:
  sinks:
    - syslog: 127.0.0.1:${udp.port}
      facility: local3
    - syslog: 127.0.0.1:${tcp.port}
      protocol: tcp
    - jsonl: findings.jsonl
${egressTo(p.port, HOSTS)}
`,
    beforeCleanup: () => agent?.close(),
  });
  after(async () => {
    await udp?.close();
    await tcp?.close();
  });
  const jsonlFile = () => join(dirname(chain.configFile), 'findings.jsonl');
  const secretFree = (what: string, text: string) => {
    expect(text, what).not.to.include(KEY);
    expect(text, what).not.to.include(QUERY_SECRET);
  };

  it('a DLP block reaches both syslog receivers as it happens, with the detector and without the key', async () => {
    agent = await chain.agent();
    const res = await timedRequest(agent, `https://open.example.com/echo?token=${QUERY_SECRET}`, {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: `deploy with ${KEY}` }] }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).to.equal(403);
    // local3 (19) * 8 + err (3) over UDP; the default local0 (16) over TCP.
    for (const [listener, pri] of [
      [udp, 155],
      [tcp, 131],
    ] as const) {
      const m = await listener.waitFor((x) => x.includes('dlp_blocked'), 20_000);
      expect(m).to.match(
        new RegExp(`^<${pri}>1 \\S+ \\S+ moat \\d+ dlp_blocked \\[moat@32473 chain="default" code="dlp_blocked"`),
      );
      expect(m).to.include('detectors="aws_access_key').and.include('url="https://open.example.com/echo"');
      secretFree('syslog', m);
    }
    expect(provider.seen.some((s) => s.host === 'open.example.com')).to.equal(false);
  });

  it('a denial and a would-deny follow; the JSON lines file holds all three, 0600', async () => {
    expect((await timedRequest(agent!, 'https://evil.example.com/x')).status).to.equal(403);
    expect((await timedRequest(agent!, 'https://trial.example.com/echo')).status).to.equal(200);
    await udp.waitFor((x) => x.includes('would_deny'), 20_000);
    await udp.waitFor((x) => x.includes('policy_denied'), 20_000);
    let lines: { code: string; rule?: string }[] = [];
    for (let i = 0; i < 50 && lines.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        lines = readFileSync(jsonlFile(), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
      } catch {
        lines = [];
      }
    }
    expect(lines.map((l) => `${l.code} ${l.rule}`)).to.deep.equal([
      'dlp_blocked dlp',
      'policy_denied no-evil',
      'would_deny trial',
    ]);
    expect(statSync(jsonlFile()).mode & 0o777).to.equal(0o600);
    secretFree('jsonl', readFileSync(jsonlFile(), 'utf8'));
    const warning = udp.messages.find((m) => m.includes('would_deny'))!;
    expect(warning).to.match(/^<156>1 /); // local3, warning
  });

  it('moat chain findings --sarif: valid SARIF 2.1.0, the same fingerprints twice; --json and the table agree', async () => {
    const file = join(dirname(chain.configFile), 'f.sarif');
    const first = await chain.cli(['findings', '--sarif', file]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.include('3 finding(s), SARIF 2.1.0');
    const text = readFileSync(file, 'utf8');
    secretFree('sarif', text);
    const log = JSON.parse(text);
    expect(sarifErrors(log)).to.deep.equal([]);
    const results = log.runs[0].results as { ruleId: string; level: string; partialFingerprints: object }[];
    expect(results.map((r) => `${r.ruleId} ${r.level}`)).to.deep.equal([
      'dlp_blocked error',
      'policy_denied error',
      'would_deny warning',
    ]);
    const again = await chain.cli(['findings', '--sarif', file]);
    expect(again.code, again.stderr).to.equal(0);
    const second = JSON.parse(readFileSync(file, 'utf8')).runs[0].results as typeof results;
    expect(second.map((r) => r.partialFingerprints)).to.deep.equal(results.map((r) => r.partialFingerprints));

    const json = await chain.cli(['findings', '--json']);
    expect(json.code, json.stderr).to.equal(0);
    secretFree('json', json.stdout);
    const list = JSON.parse(json.stdout) as { code: string; detectors?: string[]; url?: string }[];
    expect(list.map((f) => f.code)).to.deep.equal(['dlp_blocked', 'policy_denied', 'would_deny']);
    expect(list[0]).to.deep.include({ detectors: ['aws_access_key'], url: 'https://open.example.com/echo' });

    const table = await chain.cli(['findings', '--since', '1h']);
    expect(table.code, table.stderr).to.equal(0);
    secretFree('table', table.stdout);
    expect(table.stdout).to.include('dlp_blocked (aws_access_key)').and.include('no-evil');
    await new Promise((r) => setTimeout(r, 1100));
    const none = await chain.cli(['findings', '--since', '1s']);
    expect(none.stdout.trim()).to.equal('no findings');
    const both = await chain.cli(['findings', '--json', '--sarif', file]);
    expect(both.code).to.equal(2);
  });
});
