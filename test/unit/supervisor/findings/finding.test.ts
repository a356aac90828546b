// Events into findings: which response events are findings, of which code and level, with the detector and never the
// secret, the request as a URI without its query; and findings into SARIF that the SARIF 2.1.0 schema accepts.
import { expect } from 'chai';
import type { MoatEvent } from '../../../../schemas/generated/event';
import { dlpDetectors, findingOf, findingsOf, requestUri } from '../../../../supervisor/findings/finding';
import { FINGERPRINT, toSarif } from '../../../../supervisor/findings/sarif';
import { findingsTable, ledgerFindings } from '../../../../supervisor/findings/findings-command';
import { sarifErrors } from '../../../helpers/sarif-schema';
import { fake } from '../../../helpers/fake-secrets';
import { tmpDir } from '../../../helpers/tmp';
import { Ledger } from '../../../../supervisor/ledger/ledger';
import { join } from 'node:path';

let seq = 0;
const ev = (o: Partial<MoatEvent>): MoatEvent => ({
  id: `e${++seq}`,
  chain: 'c',
  trace: `t${seq}`,
  hop: 2,
  hop_name: 'moat-policy',
  boundary: 1,
  direction: 'response',
  time: '2026-12-05T10:00:00.000Z',
  method: 'POST',
  scheme: 'https',
  host: 'api.example.com',
  port: 443,
  path: '/v1/messages',
  status: 403,
  ...o,
});

describe('findings from events', () => {
  const cases: [string, Partial<MoatEvent>, { code: string; level: string } | undefined][] = [
    [
      'a denial',
      { decision: 'deny', rule: 'no-evil', reason: 'matched evil', error: 'policy_denied' },
      { code: 'policy_denied', level: 'error' },
    ],
    [
      'a DLP block',
      { decision: 'deny', rule: 'dlp', reason: 'request body contains github_token', error: 'dlp_blocked' },
      { code: 'dlp_blocked', level: 'error' },
    ],
    ['a denial without its code', { decision: 'deny', rule: 'r' }, { code: 'policy_denied', level: 'error' }],
    [
      'a would-deny',
      { decision: 'would_deny', rule: 'r', reason: 'x', status: 200 },
      { code: 'would_deny', level: 'warning' },
    ],
    [
      'a spent budget',
      { decision: 'deny', rule: 'r', error: 'budget_exhausted', status: 429 },
      { code: 'budget_exhausted', level: 'warning' },
    ],
    [
      'a rate limit',
      { decision: 'deny', rule: 'r', error: 'rate_limited', status: 429 },
      { code: 'rate_limited', level: 'error' },
    ],
    ['a hop failure', { error: 'hop_unavailable', status: 502 }, { code: 'hop_unavailable', level: 'error' }],
    ['a body timeout', { error: 'body_timeout', status: 408 }, { code: 'body_timeout', level: 'error' }],
    ['a third-party hop error', { error: 'hop_error', status: 500 }, { code: 'hop_error', level: 'error' }],
    ['an agent that hung up', { error: 'client_aborted', status: 499 }, undefined],
    ['an allowed response', { decision: 'allow', status: 200 }, undefined],
    ['a plain response', { status: 200 }, undefined],
    ['the request event of a denial', { direction: 'request', decision: 'deny', rule: 'r' }, undefined],
    ['a gap', { direction: 'gap', gap: 3 }, undefined],
  ];
  for (const [name, o, want] of cases)
    it(`${name}: ${want ? `${want.code}, ${want.level}` : 'no finding'}`, () => {
      const f = findingOf(ev(o));
      if (!want) return expect(f).to.equal(undefined);
      expect(f).to.include(want);
    });

  it('a DLP block names its detectors, never the value; a secret in a reason or path is masked', () => {
    const key = fake.githubToken();
    const f = findingOf(
      ev({
        decision: 'deny',
        rule: 'dlp',
        error: 'dlp_blocked',
        reason: `request body contains github_token, aws_access_key (was ${key})`,
        path: `/v1/x/${key}`,
      }),
    )!;
    expect(JSON.stringify(f)).not.to.include(key);
    expect(f.url).to.match(/^https:\/\/api\.example\.com\/v1\/x\//);
    expect(dlpDetectors('request body contains github_token, aws_access_key')).to.deep.equal([
      'github_token',
      'aws_access_key',
    ]);
    expect(dlpDetectors('request header x-key contains openai_key')).to.deep.equal(['openai_key']);
    expect(dlpDetectors('matched *')).to.deep.equal([]);
  });

  it('the request URI: no query or fragment, the port when not the default, characters escaped', () => {
    expect(requestUri({ scheme: 'https', host: 'a.example', port: 443, path: '/p?key=1#f' })).to.equal(
      'https://a.example/p',
    );
    expect(requestUri({ scheme: 'http', host: 'a.example', port: 8080, path: '/a b"<>%zz%41' })).to.equal(
      'http://a.example:8080/a%20b%22%3C%3E%25zz%41',
    );
    expect(requestUri({ scheme: 'https', host: 'a.example', port: 8443, path: '' })).to.equal(
      'https://a.example:8443/',
    );
    expect(requestUri({ host: '::1', port: 443, path: '/' })).to.equal('https://[::1]/');
    expect(requestUri({ path: '/' })).to.equal(undefined);
  });
});

describe('findings as SARIF 2.1.0', () => {
  const events = [
    ev({ trace: 'T1', decision: 'deny', rule: 'no-evil', reason: 'matched evil', error: 'policy_denied' }),
    ev({
      trace: 'T2',
      decision: 'deny',
      rule: 'dlp',
      reason: 'request body contains github_token',
      error: 'dlp_blocked',
    }),
    ev({ trace: 'T3', decision: 'would_deny', rule: 'r', reason: 'x', status: 200, path: '/q?token=abc' }),
    ev({ trace: 'T4', hop: 3, hop_name: 'egress', error: 'upstream_unavailable', status: 502 }),
    ev({ trace: 'T5', decision: 'deny', rule: 'b', error: 'budget_exhausted', status: 429, host: undefined }),
  ];
  const log = toSarif(findingsOf(events), { version: '0.1.0', chain: 'c' });
  const run = log.runs[0] as {
    tool: { driver: { rules: { id: string; help: { text: string } }[] } };
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations: { logicalLocations: { name: string }[]; physicalLocation?: { artifactLocation: { uri: string } } }[];
      partialFingerprints: Record<string, string>;
    }[];
  };

  it('is valid against the SARIF 2.1.0 schema (and an invalid log is not: the check reads the log)', () => {
    expect(sarifErrors(log)).to.deep.equal([]);
    expect(sarifErrors({ ...log, version: '2.0.0' })).not.to.deep.equal([]);
    expect(sarifErrors({ version: '2.1.0', runs: [{ results: [] }] })).not.to.deep.equal([]);
    expect(sarifErrors(toSarif([], { version: '0.1.0', chain: 'c' }))).to.deep.equal([]);
  });

  it('one rule per finding code with help text, results pointing at theirs', () => {
    const ids = run.tool.driver.rules.map((r) => r.id);
    expect(ids).to.deep.equal([
      'budget_exhausted',
      'dlp_blocked',
      'policy_denied',
      'upstream_unavailable',
      'would_deny',
    ]);
    for (const r of run.tool.driver.rules) expect(r.help.text.length).to.be.greaterThan(20);
    for (const res of run.results) expect(ids[res.ruleIndex]).to.equal(res.ruleId);
  });

  it('levels, messages, locations and fingerprints', () => {
    expect(run.results.map((r) => r.level)).to.deep.equal(['error', 'error', 'warning', 'error', 'warning']);
    expect(run.results[1].message.text).to.include('detectors: github_token');
    expect(run.results[0].message.text).to.include('rule no-evil');
    expect(run.results[0].locations[0].logicalLocations[0].name).to.equal('moat-policy');
    expect(run.results[2].locations[0].physicalLocation!.artifactLocation.uri).to.equal('https://api.example.com/q');
    expect(run.results[4].locations[0].physicalLocation).to.equal(undefined);
    expect(run.results.map((r) => r.partialFingerprints[FINGERPRINT])).to.deep.equal([
      'c/T1/2/policy_denied',
      'c/T2/2/dlp_blocked',
      'c/T3/2/would_deny',
      'c/T4/3/upstream_unavailable',
      'c/T5/2/budget_exhausted',
    ]);
    // The same events, the same log.
    expect(JSON.stringify(toSarif(findingsOf(events), { version: '0.1.0', chain: 'c' }))).to.equal(JSON.stringify(log));
  });

  it('a table, and "no findings" when there are none', () => {
    expect(findingsTable([])).to.equal('no findings');
    const text = findingsTable(findingsOf(events));
    expect(text.split('\n')[0]).to.match(/^time\s+level\s+finding\s+hop\s+rule\s+request\s+trace$/);
    expect(text).to.include('dlp_blocked (github_token)');
  });

  it('--since keeps the findings of the last DURATION and refuses what is not one', async () => {
    const dir = tmpDir('moat-since-');
    try {
      const ledgerFile = join(dir.path, 'ledger.db');
      const ledger = await Ledger.open(ledgerFile);
      const now = Date.parse('2026-12-05T12:00:00.000Z');
      const at = (msAgo: number) => new Date(now - msAgo).toISOString();
      await ledger.append([
        ev({ trace: 'old', time: at(3 * 3_600_000), decision: 'deny', rule: 'r', error: 'policy_denied' }),
        ev({ trace: 'recent', time: at(10 * 60_000), decision: 'deny', rule: 'r', error: 'policy_denied' }),
        ev({ trace: 'ok', time: at(60_000), status: 200 }),
      ]);
      await ledger.close();
      const traces = async (since?: string) => (await ledgerFindings({ ledgerFile }, since, now)).map((f) => f.trace);
      expect(await traces()).to.deep.equal(['old', 'recent']);
      expect(await traces('1h')).to.deep.equal(['recent']);
      expect(await traces('5m')).to.deep.equal([]);
      expect(await traces('1d')).to.deep.equal(['old', 'recent']);
      await ledgerFindings({ ledgerFile }, '5x').then(
        () => expect.fail('bad duration'),
        (err: Error) => expect(err.message).to.include('--since takes a duration'),
      );
    } finally {
      dir.remove();
    }
    await ledgerFindings({ ledgerFile: '/nonexistent/ledger.db' }).then(
      () => expect.fail('no ledger'),
      (err: Error) => expect(err.message).to.include('no ledger yet'),
    );
  });
});
