import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { importAgentreserve } from '../../../../supervisor/commands/policy-import';
import { parseConfig } from '../../../../supervisor/config/load';
import { MoatError } from '../../../../supervisor/errors';
import { PolicyEngine } from '../../../../hops/policy/engine';
import { UsageBook } from '../../../../hops/policy/usage-book';
import { policySettings } from '../../../../supervisor/config/policy';
import { MOAT_BIN } from '../../../helpers/cli-chain';
import { REPO_ROOT } from '../../../helpers/repo-root';

const EXAMPLE = join(REPO_ROOT, 'test', 'fixtures', 'agentreserve', 'readme-example.yaml');

function errorOf(text: string): MoatError {
  try {
    importAgentreserve(text, 'agentreserve.yaml');
  } catch (err) {
    if (err instanceof MoatError) return err;
    throw err;
  }
  throw new Error('expected the import to fail');
}

describe('moat chain policy import (agentreserve.yaml -> policy:)', () => {
  const imported = importAgentreserve(readFileSync(EXAMPLE, 'utf8'), 'agentreserve.yaml');

  it('converts rules and limits in order, protocol prefixes dropped, days to three-letter names', () => {
    expect(imported.policy.rules.map((r) => `${r.action} ${r.match}`)).to.deep.equal([
      'allow api.openai.com/*',
      'allow api.anthropic.com/*',
      'deny *.internal.company.com/*',
      'deny *.amazonaws.com/iam/*',
      'log *',
    ]);
    expect(imported.policy.rules[1].policies).to.deep.equal([
      { type: 'rate_limit', max_requests_per_minute: 30 },
      { type: 'time_restriction', allowed_hours_start: 8, allowed_hours_end: 20, allowed_days: ['mon', 'tue'] },
      { type: 'spending_limit', max_amount: 25, currency: 'USD' },
    ]);
  });

  it('warns where agentreserve 0.1.0 behaves otherwise than its config reads', () => {
    expect(imported.warnings.join('\n'))
      .to.contain('"Monday" read as mon')
      .and.contain('does not enforce spending_limit')
      .and.contain('applies "*.amazonaws.com/iam/*" to every path of the host');
    expect(imported.yaml.split('\n').filter((l) => l.startsWith('# warning: '))).to.have.length(
      imported.warnings.length,
    );
  });

  it('the printed section, with prices added, loads as moat.yaml and decides like the rules say', () => {
    const text = `proxies: [moat-policy]\nprices:\n  "*": {input: 3, output: 15}\n${imported.yaml}`;
    const { config } = parseConfig(text, 'moat.yaml');
    expect(parse(imported.yaml).policy.rules).to.have.length(5);
    const engine = new PolicyEngine(policySettings(config), {
      now: () => Date.parse('2026-11-23T10:00:00Z'),
      scan: () => [],
      usage: new UsageBook(),
    });
    const view = (host: string, path: string) => ({ method: 'GET', host, path, headers: {} });
    expect(engine.decide(view('wiki.internal.company.com', '/x'))).to.include({
      action: 'deny',
      reason: 'Internal APIs are not accessible to agents',
    });
    expect(engine.decide(view('api.openai.com', '/v1/models')).action).to.equal('allow');
    expect(engine.decide(view('s3.amazonaws.com', '/b')).action).to.equal('log');
  });

  it('a money budget needs prices: the section alone is refused at load with the key named', () => {
    expect(() => parseConfig(`proxies: [moat-policy]\n${imported.yaml}`, 'moat.yaml')).to.throw(
      /policies\[2\]\.max_amount: a budget in money needs prices/,
    );
  });

  it('limits on deny and log rules are dropped with a warning', () => {
    const r = importAgentreserve(
      'rules:\n  - match: "*"\n    action: log\n    policies: [{type: rate_limit, max_requests_per_minute: 5}]\n',
      'a.yaml',
    );
    expect(r.policy.rules[0].policies).to.equal(undefined);
    expect(r.warnings[0]).to.contain('log rules take no limits');
  });

  const bad: [string, string, RegExp][] = [
    [
      'a typo in a rule key',
      'rules:\n  - match: x\n    action: allow\n    polices: []\n',
      /^agentreserve\.yaml:4:5: rules\[0\]\.polices: unknown key "polices"/,
    ],
    [
      'an action agentreserve does not have',
      'rules:\n  - match: x\n    action: block\n',
      /^agentreserve\.yaml:3:13: rules\[0\]\.action: must be one of "allow", "deny", "log"/,
    ],
    [
      'a day that is no day',
      'rules:\n  - match: x\n    action: allow\n    policies:\n      - type: time_restriction\n        ' +
        'allowed_days: [mon, funday]\n',
      /^agentreserve\.yaml:6:29: rules\[0\]\.policies\[0\]\.allowed_days\[1\]: "funday" is not a day/,
    ],
    ['broken YAML', 'rules: [\n', /^agentreserve\.yaml:2:1: /],
  ];
  for (const [name, text, message] of bad) {
    it(`refuses ${name} with file:line:col`, () => {
      const err = errorOf(text);
      expect(err.code).to.match(/^MOAT_ERR_IMPORT_/);
      expect(err.message).to.match(message);
    });
  }

  it('the CLI prints the section on stdout and the warnings on stderr', () => {
    const res = spawnSync(process.execPath, [MOAT_BIN, 'chain', 'policy', 'import', EXAMPLE], { encoding: 'utf8' });
    expect(res.status).to.equal(0);
    expect(parse(res.stdout).policy.rules).to.have.length(5);
    expect(res.stderr).to.contain('warning: rules[3]: agentreserve 0.1.0 applies');
    const missing = spawnSync(
      process.execPath,
      [MOAT_BIN, 'chain', 'policy', 'import', '/nonexistent/agentreserve.yaml'],
      { encoding: 'utf8' },
    );
    expect(missing.status).to.equal(1);
    expect(missing.stderr)
      .to.contain('/nonexistent/agentreserve.yaml: no such file')
      .and.contain('MOAT_ERR_FILE_UNREADABLE')
      .and.not.contain('    at ');
  });
});
