import { expect } from 'chai';
import { evaluatePolicy, policyHop } from '../../hops/policy';
import { globMatch } from '../../hops/glob';
import type { PolicyRule } from '../../schemas/generated/chain-config';
import type { RequestView } from '../../hops/view';

const view = (host: string, path: string): RequestView => ({ method: 'GET', scheme: 'https', host, port: 443, path, headers: {}, trace: 't1' });

describe('moat-policy rules (no sockets)', () => {
  const rules: PolicyRule[] = [
    { match: '*.internal.example.com/*', action: 'deny', reason: 'internal APIs are off limits' },
    { id: 'audit-models', match: 'api.anthropic.com/v1/models', action: 'log' },
    { match: 'api.openai.com/*', action: 'allow' },
    { match: '*', action: 'deny', reason: 'default deny' },
  ];
  const cases: [string, string, string, string | undefined][] = [
    ['x.internal.example.com', '/v1/models', 'deny', 'rules[0]'],
    ['a.b.internal.example.com', '/', 'deny', 'rules[0]'],
    ['api.anthropic.com', '/v1/models', 'log', 'audit-models'],
    ['api.anthropic.com', '/v1/models?key=secret', 'log', 'audit-models'],
    ['api.openai.com', '/v1/chat/completions', 'allow', 'rules[2]'],
    ['example.org', '/', 'deny', 'rules[3]'],
  ];
  for (const [host, path, action, rule] of cases) {
    it(`${host}${path} -> ${action} by ${rule}`, () => {
      const d = evaluatePolicy(rules, view(host, path));
      expect(d.action).to.equal(action);
      expect(d.rule).to.equal(rule);
    });
  }

  it('first match wins and no match allows with a reason', () => {
    expect(evaluatePolicy([{ match: 'a.com/*', action: 'allow' }, { match: 'a.com/*', action: 'deny' }], view('a.com', '/x')).action).to.equal('allow');
    expect(evaluatePolicy([{ match: 'a.com/*', action: 'deny' }], view('b.com', '/x'))).to.deep.equal({ action: 'allow', reason: 'no rule matched' });
  });

  it('a deny answers 403 with error, rule and reason, and a log line without the query', () => {
    const d = policyHop(rules).onRequest!(view('x.internal.example.com', '/v1/models?key=hunter2'));
    expect(d.action).to.equal('respond');
    if (d.action !== 'respond') return;
    expect(d.status).to.equal(403);
    expect(d.body).to.deep.equal({ error: 'policy_denied', rule: 'rules[0]', reason: 'internal APIs are off limits' });
    expect(d.log).to.contain('deny rule=rules[0]').and.not.contain('hunter2');
  });

  it('globs: * spans dots and slashes, ? one character, case-insensitive, regex characters literal', () => {
    expect(globMatch('api.*.com/*', 'api.foo.bar.com/x/y')).to.equal(true);
    expect(globMatch('a?c', 'abc')).to.equal(true);
    expect(globMatch('a?c', 'abbc')).to.equal(false);
    expect(globMatch('API.example.com', 'api.EXAMPLE.com')).to.equal(true);
    expect(globMatch('a.com', 'aXcom')).to.equal(false);
    expect(globMatch('(a)+', '(a)+')).to.equal(true);
  });
});
