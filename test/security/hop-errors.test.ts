// The mark the Moat process after a third-party hop puts on its answers (x-moat-via, hops/logic/hop-answer.ts) is
// what lets the link in front of the hop tell the hop's own error pages from answers of the chain after it. Attacked
// as an agent would, through a destination it controls: a 5xx carrying a forged mark (another hop's number, or an
// empty one) must still reach the agent as the destination sent it, not be taken for the hop's own page and replaced;
// and the mark never reaches the agent. Both hold because every Moat process drops the mark from what it passes back
// and the process after the hop sets its own. A blind tunnel the Moat process after a hop opened and holds for the
// hop's CONNECT (hops/runtime/tunnel-parking.ts) carries only the destination it was decided for: an agent that
// names another host in its ClientHello (an isolated hop dials by that name) does not get it through the held one.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { PROVIDER_ERROR_BODY } from '../fixtures/fake-provider';
import { connectPlain } from '../helpers/raw-client';
import { chainFixture } from '../helpers/chain-fixture';
import { egressTo } from '../helpers/cli-chain';
import { timedRequest } from '../helpers/proxy-client';

describe('security: the mark behind a third-party hop (tinyproxy) cannot be forged by a destination', function () {
  this.timeout(120_000);
  const { chain, provider } = chainFixture({
    name: 'viamark',
    config: (p) => `name: viamark\nproxies: [tinyproxy, moat-telemetry]\n${egressTo(p.port)}`,
  });

  for (const via of ['1', '', '2', '2, 1'])
    it(`a destination's 502 with x-moat-via: "${via}" passes unchanged and without the mark`, async () => {
      const agent = await chain.agent();
      try {
        const res = await timedRequest(agent, `https://api.anthropic.com/status/502?via=${encodeURIComponent(via)}`);
        expect(res.status).to.equal(502);
        expect(res.body, 'the destination answer, not moat JSON blaming the hop').to.equal(PROVIDER_ERROR_BODY);
        expect(res.headers['x-moat-error']).to.equal(undefined);
        expect(res.headers['x-moat-via']).to.equal(undefined);
        expect(provider.seen.at(-1)?.path).to.contain('/status/502');
      } finally {
        await agent.close();
      }
    });

  it("a destination's x-moat-claimed (the claim mark, hops/logic/inflight.ts) never reaches the agent", async () => {
    const agent = await chain.agent();
    try {
      const res = await timedRequest(agent, 'https://api.anthropic.com/status/502?via=2&claimed=1');
      expect(res.status).to.equal(502);
      expect(res.body).to.equal(PROVIDER_ERROR_BODY);
      expect(res.headers['x-moat-claimed']).to.equal(undefined);
      expect(res.headers['x-moat-via']).to.equal(undefined);
    } finally {
      await agent.close();
    }
  });

  it("an agent's own x-moat-via request header changes nothing it gets", async () => {
    const agent = await chain.agent();
    try {
      const res = await timedRequest(agent, 'https://api.anthropic.com/status/503', { headers: { 'x-moat-via': '2' } });
      expect(res.status).to.equal(503);
      expect(res.body).to.equal(PROVIDER_ERROR_BODY);
      expect(res.headers['x-moat-via']).to.equal(undefined);
    } finally {
      await agent.close();
    }
  });
});

describe(
  'security: a blind tunnel held for an isolated hop (agentreserve) is taken only for the destination it was ' +
    'opened for',
  function () {
    this.timeout(120_000);
    const { chain, provider } = chainFixture({
      name: 'parked',
      config: (p) => `name: parked
proxies: [moat-telemetry, {use: agentreserve, isolation: netns}, moat-policy]
tls: {intercept: [api.anthropic.com]}
policy: {rules: [{id: no-forbidden, match: "forbidden.example.com/*", action: deny}]}
${egressTo(p.port, ['api.anthropic.com', 'blind.example.com', 'forbidden.example.com'])}`,
    });

    it('CONNECT to an allowed host, then TLS naming a denied one: the denied host is never reached', async () => {
      const ingress = (await chain.status()).find((r) => r.name === 'ingress').port;
      const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
      const socket = await connectPlain(ingress);
      const auth = Buffer.from(`moat:${token}`).toString('base64');
      socket.write(
        `CONNECT blind.example.com:443 HTTP/1.1\r\nHost: blind.example.com:443\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`,
      );
      const head = await new Promise<string>((resolve) => {
        let got = '';
        socket.on('data', function onData(d: Buffer) {
          got += d.toString('latin1');
          if (!got.includes('\r\n\r\n')) return;
          socket.off('data', onData);
          resolve(got);
        });
      });
      expect(head).to.match(/^HTTP\/1\.1 200/);
      // The isolated hop dials by the ClientHello's name: the tunnel held for blind.example.com must not carry it.
      const before = provider.seen.length;
      const outcome = await new Promise<string>((resolve) => {
        const secure = tls.connect({ socket, servername: 'forbidden.example.com', rejectUnauthorized: false }, () => {
          secure.write('GET /v1/models HTTP/1.1\r\nHost: forbidden.example.com\r\nConnection: close\r\n\r\n');
        });
        let text = '';
        secure.on('data', (d: Buffer) => (text += d.toString()));
        secure.once('end', () => resolve(text || 'closed'));
        secure.once('error', (err) => resolve(`error: ${err.message}`));
      });
      expect(outcome).to.not.match(/^HTTP\/1\.1 200/);
      await new Promise((r) => setTimeout(r, 300));
      expect(provider.seen.slice(before).map((s) => s.host)).to.not.include('forbidden.example.com');
      const [denied] = await chain.ledgerEvents(
        (e) => e.host === 'forbidden.example.com' && e.direction === 'response' && e.boundary === 2,
        1,
      );
      expect(denied).to.deep.include({ status: 403, decision: 'deny', rule: 'no-forbidden' });
    });
  },
);
