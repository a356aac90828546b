// Admission: the one step the link server and blind tunnels share: a request's trace, and what happens to it.
import { expect } from 'chai';
import { admit, claimedTrace, goesAround, traceHeadersToSend, traceStep } from '../../../../hops/logic/admission';
import type { RequestView } from '../../../../hops/logic/view';
import type { LinkSpec } from '../../../../hops/spec';

const view = (over: Partial<RequestView> = {}): RequestView => ({
  method: 'POST',
  scheme: 'https',
  host: 'api.anthropic.com',
  port: 443,
  path: '/v1/messages',
  headers: {},
  trace: 't1',
  ...over,
});

const TRACE = 'aaaabbbbccccddddeeeeffff00001111';

describe('admission: the trace', () => {
  it('ingress takes the agent traceparent or mints one, and says which headers to add', () => {
    const given = traceStep('ingress', { traceparent: `00-${TRACE}-0123456789abcdef-01` }, false);
    expect(given).to.deep.equal({ trace: TRACE, correlation: 'exact', set: { 'x-moat-trace': TRACE } });
    const minted = traceStep('ingress', { 'x-moat-trace': 'forged-by-the-agent' }, true);
    if (minted === 'claim') throw new Error('ingress never claims');
    expect(minted.trace)
      .to.match(/^[0-9a-f]{32}$/)
      .and.not.equal('forged-by-the-agent');
    expect(minted.set).to.have.keys('traceparent', 'x-moat-trace');
  });

  it('later processes read x-moat-trace, ask the link before a hop without it, or start a new trace', () => {
    expect(traceStep('builtin', { 'x-moat-trace': TRACE }, true)).to.deep.equal({ trace: TRACE, correlation: 'exact' });
    expect(traceStep('egress', {}, true)).to.equal('claim');
    const lost = traceStep('egress', { 'x-moat-trace': '' }, false);
    expect(lost).to.include({ correlation: 'unmatched' });
  });

  it('a claim answered is inferred; unanswered, a new trace, unmatched', () => {
    expect(claimedTrace('t7')).to.deep.equal({ trace: 't7', correlation: 'inferred' });
    const fresh = claimedTrace(undefined);
    expect(fresh.correlation).to.equal('unmatched');
    expect(fresh.trace).to.match(/^[0-9a-f]{32}$/);
  });

  it('restores a trace the hop before dropped, except at the last Moat process', () => {
    expect(traceHeadersToSend({ trace: 't7', correlation: 'inferred' }, false)).to.deep.equal({ 'x-moat-trace': 't7' });
    expect(traceHeadersToSend({ trace: 't7', correlation: 'inferred' }, true)).to.deep.equal({});
    expect(traceHeadersToSend({ trace: 't7', correlation: 'exact' }, false)).to.deep.equal({});
    expect(traceHeadersToSend({ trace: 't', correlation: 'exact', set: { a: 'b' } }, true)).to.deep.equal({ a: 'b' });
  });
});

describe('admission: what happens', () => {
  const link: Pick<LinkSpec, 'hop' | 'name' | 'onward' | 'role'> = {
    role: 'link',
    hop: 2,
    name: 'headroom',
    onward: {
      kind: 'base_url_hop',
      next: { port: 1, hop: 2, name: 'headroom' },
      scope: { hosts: ['api.anthropic.com'], paths: ['/v1/messages'] },
      skip: { port: 2, hop: 3, name: 'egress', moat: true },
    },
  };
  const egress: Pick<LinkSpec, 'role' | 'hop' | 'name' | 'egress' | 'onward'> = {
    role: 'egress',
    hop: 3,
    name: 'egress',
    egress: { allow: ['api.anthropic.com'], resolve: {}, extraCa: [], timeoutMs: 1000 },
    onward: { kind: 'internet' },
  };

  it('sends requests outside a base_url hop scope, and every tunnel, round the hop', () => {
    expect(goesAround(link, view())).to.equal(undefined);
    expect(goesAround(link, view({ path: '/v1/models' })))
      .to.have.nested.property('decision.reason')
      .that.contains('outside the scope of hop 2 (headroom)');
    expect(goesAround(link, view({ method: 'CONNECT', path: '' })))
      .to.have.nested.property('decision.reason')
      .that.contains('takes no CONNECT');
    const forward = { ...link, onward: { kind: 'moat' as const, next: { port: 1, hop: 2, name: 'moat-policy' } } };
    expect(goesAround(forward, view({ method: 'CONNECT' }))).to.equal(undefined);
  });

  it('a hop that answers is answered, with its headers and log line', () => {
    const denied = admit(
      egress,
      view(),
      { action: 'respond', status: 403, body: { error: 'policy_denied' }, log: 'denied', decision: { action: 'deny' } },
      false,
    );
    expect(denied).to.deep.include({ action: 'respond', status: 403, headers: {}, log: 'denied' });
    expect(denied.decision).to.deep.equal({ action: 'deny' });
  });

  it('egress.allow refuses what the hop let through, for requests and tunnels alike', () => {
    for (const method of ['POST', 'CONNECT']) {
      const refused = admit(egress, view({ method, host: 'evil.example' }), { action: 'forward' }, false);
      expect(refused).to.deep.include({ action: 'respond', status: 403, headers: { 'x-moat-error': 'egress_denied' } });
      if (refused.action === 'respond') expect(refused.body).to.have.property('error', 'egress_denied');
    }
  });

  it('forwards, round the hop when goesAround said so, keeping the decision for the events', () => {
    const around = goesAround(link, view({ path: '/v1/models' }))!;
    expect(admit(link, view(), around, true)).to.deep.include({ action: 'forward', around: true });
    const logged = admit(egress, view(), { action: 'forward', decision: { action: 'log', rule: 'r' } }, false);
    expect(logged).to.deep.equal({
      action: 'forward',
      around: false,
      decision: { action: 'log', rule: 'r' },
      log: undefined,
    });
  });
});
