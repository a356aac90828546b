// Policy rules with `methods` (what `moat chain policy learn` writes) read the method the server will: a request whose
// method-override header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) names another is read as both,
// fail closed: a deny rule for DELETE catches a POST that says DELETE, and an allow rule for GET and POST does not
// let through a POST that says PUT. Attacked as the agent through ingress and moat-policy (in-process chain); fails
// with hops/policy/engine.ts's requestMethods reading the request line only.
import { expect } from 'chai';
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { startInprocChain, type InprocChain } from '../helpers/inproc-chain';
import { proxyAgent, timedRequest } from '../helpers/proxy-client';
import type { ProxyAgent } from 'undici';

describe('security: method rules cannot be got round with a method-override header', function () {
  this.timeout(60_000);
  let provider: FakeProvider;
  let chain: InprocChain;
  let agent: ProxyAgent;

  before(async () => {
    provider = await new FakeProvider().start();
    chain = await startInprocChain({
      hops: ['moat-policy'],
      rules: [
        { id: 'no-delete', match: 'api.anthropic.com/v1/files/*', methods: ['DELETE'], action: 'deny' },
        { id: 'reads', match: 'api.anthropic.com/v1/*', methods: ['GET', 'POST'], action: 'allow' },
        { id: 'rest', match: '*', action: 'deny' },
      ],
      egress: {
        allow: ['api.anthropic.com'],
        resolve: { 'api.anthropic.com:443': `127.0.0.1:${provider.port}` },
        extraCa: [PROVIDER_CA_FILE],
      },
    });
    agent = proxyAgent(chain.ingressPort, chain.token, chain.layout.caCertFile);
  });

  after(async () => {
    await agent.close();
    await chain.stop();
    await provider.stop();
  });

  const send = async (method: string, path: string, headers: Record<string, string> = {}) => {
    const res = await timedRequest(agent, `https://api.anthropic.com${path}`, {
      method,
      headers,
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
    return { status: res.status, rule: res.status === 403 ? JSON.parse(res.body).rule : undefined };
  };

  it('as written: GET and POST go, DELETE of a file is denied', async () => {
    expect((await send('GET', '/v1/models')).status).to.equal(200);
    expect((await send('POST', '/v1/messages')).status).to.equal(200);
    expect(await send('DELETE', '/v1/files/f1')).to.deep.equal({ status: 403, rule: 'no-delete' });
  });

  const overrides: [string, Record<string, string>][] = [
    ['X-HTTP-Method-Override: DELETE', { 'X-HTTP-Method-Override': 'DELETE' }],
    ['x-http-method: delete (lower case)', { 'x-http-method': 'delete' }],
    ['X-Method-Override: GET, DELETE (a list)', { 'X-Method-Override': 'GET, DELETE' }],
  ];
  for (const [what, headers] of overrides)
    it(`a POST with ${what} is read as a DELETE: denied by the DELETE rule`, async () => {
      const before = provider.seen.length;
      expect(await send('POST', '/v1/files/f1', headers)).to.deep.equal({ status: 403, rule: 'no-delete' });
      expect(provider.seen.length).to.equal(before);
    });

  it('a POST saying PUT is not what the GET and POST rule allows: the deny-all rule decides', async () => {
    expect(await send('POST', '/v1/messages', { 'X-HTTP-Method-Override': 'PUT' })).to.deep.equal({
      status: 403,
      rule: 'rest',
    });
  });
});
