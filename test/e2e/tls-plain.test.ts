// tls: plain: the link in front of a forward proxy that cannot intercept TLS hands it HTTPS
// requests as plain absolute-form HTTP over loopback, so the proxy sees them; the link after it
// sends them on as HTTPS again.
import { expect } from 'chai';
import { MODELS_BODY } from '../fixtures/fake-provider';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';

describe('tls: plain: tinyproxy sees the content of HTTPS requests', function () {
  this.timeout(120_000);
  const { chain, provider, upResult } = chainFixture({
    config: (provider) => `proxies:
  - moat-telemetry
  - use: tinyproxy
    tls: plain
  - moat-policy
${egressTo(provider.port)}
`,
    up: { args: ['--json'] },
  });

  it(
    'the agent still speaks HTTPS end to end and gets the ' + "provider's bytes; the provider is reached over TLS",
    async () => {
      const res = await chain.cli([
        'run',
        '--',
        'curl',
        '-sS',
        '--fail',
        'https://api.anthropic.com/v1/models?tls=plain',
      ]);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout).to.equal(MODELS_BODY);
      const seen = provider.seen.find((r) => r.path === '/v1/models?tls=plain')!;
      expect(seen.host).to.equal('api.anthropic.com');
      expect(seen.headers).to.not.have.property('x-moat-scheme');
    },
  );

  it('tinyproxy logged the full request line, which a CONNECT tunnel would have hidden', async () => {
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('/v1/models?tls=plain'); i++) {
      logs = (await chain.cli(['logs', '2'])).stdout;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(logs).to.match(/GET http:\/\/api\.anthropic\.com:443\/v1\/models\?tls=plain HTTP\/1\.1/);
    expect(logs).to.not.contain('CONNECT api.anthropic.com');
  });

  it('the events after the hop record the request as https again', async () => {
    let events: any[] = [];
    const boundary = (b: number) =>
      events.find((e: any) => e.boundary === b && e.direction === 'request' && e.path === '/v1/models');
    for (let i = 0; i < 50 && !(boundary(1) && boundary(2)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      events = await chain.events();
    }
    expect(boundary(1).scheme).to.equal('https');
    expect(boundary(2).scheme).to.equal('https');
    expect(boundary(2).header_names).to.not.include('x-moat-scheme');
  });

  it('--json: up gives a line per ready process and one for the chain; env one object; down what it did', async () => {
    const lines = upResult()
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const ready = lines.filter((l) => l.ready).map((l) => `${l.ready.hop}:${l.ready.name}:${l.ready.role}`);
    expect(ready).to.include.members([
      '0:ingress:ingress',
      '2:tinyproxy:third-party',
      '2:tinyproxy:link',
      '4:egress:egress',
    ]);
    expect(lines[lines.length - 1].up).to.deep.include({ chain: 'default', detached: true, warnings: [] });
    const env = JSON.parse((await chain.cli(['env', '--json'])).stdout);
    const exported = (await chain.cli(['env'])).stdout
      .trim()
      .split('\n')
      .map((l) => /^export ([A-Z_a-z]+)='(.*)'$/.exec(l)!);
    expect(env).to.deep.equal(Object.fromEntries(exported.map((m) => [m[1], m[2]])));
    expect(env.HTTPS_PROXY).to.match(
      new RegExp(`^http://moat:[0-9a-f]{64}@127\\.0\\.0\\.1:${lines[lines.length - 1].up.ingress_port}$`),
    );
    expect(JSON.parse((await chain.cli(['down', '--json'])).stdout)).to.deep.equal({ chain: 'default', stopped: true });
  });
});
