// The real key goes only where it is granted, and only in place of the placeholder itself (issue 16, grants): not to
// another port of the granted host (another service may listen there), not into a value the agent wrapped around the
// placeholder (it would choose what surrounds the key, and so where the key ends up).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';

const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

describe('security: a granted key goes to port 443 of its host, in place of the exact placeholder only', function () {
  this.timeout(120_000);
  let placeholder = '';

  const { chain, provider } = chainFixture({
    name: 'grantb',
    config: (provider) => `name: grantb
proxies: [moat-telemetry]
grants: [anthropic]
egress:
  allow: [api.anthropic.com]
  resolve:
    "api.anthropic.com:443": "127.0.0.1:${provider.port}"
    "api.anthropic.com:8443": "127.0.0.1:${provider.port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`,
    up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
  });

  before(() => {
    placeholder = JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).placeholders.ANTHROPIC_API_KEY;
  });

  async function send(url: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
    const agent = await chain.agent();
    const res = await request(url, { dispatcher: agent, headers });
    await res.body.text();
    await agent.close();
    expect(res.statusCode).to.equal(200);
    return provider.seen.at(-1)!.headers;
  }

  it('port 443 with the placeholder: the real key', async () => {
    expect((await send('https://api.anthropic.com/v1/models', { 'x-api-key': placeholder }))['x-api-key']).to.equal(
      REAL_KEY,
    );
  });

  it('another port of the granted host: the placeholder goes on as it is, and nothing is injected', async () => {
    expect(
      (await send('https://api.anthropic.com:8443/v1/models', { 'x-api-key': placeholder }))['x-api-key'],
    ).to.equal(placeholder);
    expect(await send('https://api.anthropic.com:8443/v1/models', {})).to.not.have.property('x-api-key');
  });

  it("the placeholder wrapped in text of the agent's: left as it is", async () => {
    for (const value of [`AAA${placeholder}BBB`, `${placeholder}${placeholder}`, `${placeholder}.x`]) {
      expect((await send('https://api.anthropic.com/v1/models', { 'x-api-key': value }))['x-api-key']).to.equal(value);
    }
    expect(
      (await send('https://api.anthropic.com/v1/models', { authorization: `Bearer ${placeholder} x` })).authorization,
    ).to.equal(`Bearer ${placeholder} x`);
    expect(provider.seen.filter((r) => JSON.stringify(r.headers).includes(REAL_KEY))).to.have.length(1);
  });
});
