// An in-process chain in front of a fake provider, for a mocha describe: started before its tests with an agent
// holding the chain's token, and after them the agent closed, the chain and the provider stopped. Hosts named in
// `hosts` reach the provider through egress (allowed, resolved to it, its CA trusted).
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { startInprocChain, type InprocChain } from './inproc-chain';
import { proxyAgent } from './proxy-client';
import type { ProxyAgent } from 'undici';

export function inprocFixture(
  hosts: string[],
  opts: Omit<Parameters<typeof startInprocChain>[0], 'egress'>,
): { provider: FakeProvider; chain: () => InprocChain; agent: () => ProxyAgent } {
  const provider = new FakeProvider();
  let chain: InprocChain;
  let agent: ProxyAgent;
  before(async () => {
    await provider.start();
    chain = await startInprocChain({
      ...opts,
      egress: {
        allow: hosts,
        resolve: Object.fromEntries(hosts.map((h) => [`${h}:443`, `127.0.0.1:${provider.port}`])),
        extraCa: [PROVIDER_CA_FILE],
      },
    });
    agent = proxyAgent(chain.ingressPort, chain.token, chain.layout.caCertFile);
  });
  after(async () => {
    await agent?.close();
    await chain?.stop();
    await provider.stop();
  });
  return { provider, chain: () => chain, agent: () => agent };
}
