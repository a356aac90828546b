// The user's own example: Headroom, seifghazi's and fuergaosi233's claude-code-proxy, then the
// built-in hops, started by short manifest names. The three proxies cannot be installed here, so
// STAND-INS from test/fixtures/stand-ins/ (same CLI flags and environment) are put on PATH.
import { expect } from 'chai';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS_BODY } from '../fixtures/fake-provider';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { Ledger } from '../../supervisor/ledger/ledger';
import type { MoatEvent } from '../../schemas/generated/event';

import { REPO_ROOT } from '../helpers/repo-root';

const STAND_INS = join(REPO_ROOT, 'test', 'fixtures', 'stand-ins', 'bin');
const LONG = 'x'.repeat(1000);

describe(
  'contrib-proxies: the seed example chain with manifest ' + 'names (stand-ins for uninstallable proxies)',
  function () {
    this.timeout(120_000);
    const { chain, provider } = chainFixture({
      env: { PATH: `${STAND_INS}:${process.env.PATH}` },
      config: (provider) => `proxies:
  - chopratejas/headroom
  - seifghazi/claude-code-proxy
  - fuergaosi233/claude-code-proxy
  - moat-telemetry
  - moat-policy
capture:
  bodies: full
${egressTo(provider.port, ['api.anthropic.com', 'api.openai.com'])}
`,
      up: false,
    });

    async function events(trace: string, count: number): Promise<MoatEvent[]> {
      for (let i = 0; ; i++) {
        const ledger = await Ledger.open(chain.layout.ledgerFile, true);
        const rows = (await ledger.rows('WHERE trace = ?', [trace])).map((r) => JSON.parse(r.event) as MoatEvent);
        await ledger.close();
        if (rows.length >= count || i >= 100) return rows;
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    it(
      'plan resolves the names to their manifests, each isolated by default, so the hop that listens everywhere ' +
        'warns of nothing',
      async () => {
        const plan = await chain.plan();
        const third = plan.processes.filter((p: any) => p.role === 'third-party');
        expect(third.map((p: any) => `${p.name}:${p.kind}:${p.command[0]}`)).to.deep.equal([
          'chopratejas/headroom:base_url:headroom',
          'seifghazi/claude-code-proxy:base_url:seifghazi-claude-code-proxy',
          'fuergaosi233/claude-code-proxy:base_url:fuergaosi233-claude-code-proxy',
        ]);
        expect(third.map((p: any) => p.isolation)).to.deep.equal(['netns', 'netns', 'netns']);
        // Its "every interface" is its own namespace's: nothing to warn about.
        expect(plan.warnings).to.deep.equal([]);
        const text = await chain.cli(['plan']);
        expect(text.stderr).to.not.contain('warning:');
      },
    );

    it('starts: every hop in its own directory, which is also its HOME', async () => {
      const up = await chain.up();
      expect(up.stderr).to.not.contain('warning:');
      const rows = await chain.status();
      for (const r of rows.filter((x) => x.role === 'third-party')) {
        const environ = readFileSync(`/proc/${r.pid}/environ`, 'utf8').split('\0');
        const home = environ.find((e) => e.startsWith('HOME='))!.slice(5);
        expect(home.startsWith(join(chain.layout.stateDir, 'hops') + '/'), home).to.equal(true);
        expect(readlinkSync(`/proc/${r.pid}/cwd`)).to.equal(home);
      }
    });

    it(
      'an Anthropic request: Headroom shortens it, fuergaosi233 turns it into an OpenAI chat completion, and the ' +
        "agent gets Anthropic's format back",
      async () => {
        const res = await chain.postMessage(LONG, { 'x-api-key': 'sk-ant-placeholder' });
        expect(res.status, res.body).to.equal(200);
        const answer = JSON.parse(res.body);
        expect(answer).to.deep.include({ type: 'message', role: 'assistant' });
        expect(answer.content[0].text).to.equal('hello from openai');
        const seen = provider.seen.pop()!;
        expect(seen.host).to.equal('api.openai.com');
        expect(seen.path).to.equal('/v1/chat/completions');
        const sent = JSON.parse(seen.body);
        expect(sent.messages[0].content).to.match(/^x{200} \[headroom: 800 chars compressed\]$/);
        // After Headroom, the request names its destination again, not the link Headroom addressed.
        const after = await (async () => {
          for (let i = 0; i < 100; i++) {
            const ledger = await Ledger.open(chain.layout.ledgerFile, true);
            const rows = (await ledger.rows()).map((r) => JSON.parse(r.event) as MoatEvent);
            await ledger.close();
            const e = rows.find((x) => x.boundary === 1 && x.direction === 'request' && x.path === '/v1/messages');
            if (e) return e;
            await new Promise((r) => setTimeout(r, 100));
          }
          throw new Error('no event at boundary 1');
        })();
        expect(after.headers?.host).to.equal('api.anthropic.com');
        // seifghazi's stand-in logged the request in its own directory.
        const seifDir = (await chain.status()).find(
          (r) => r.name === 'seifghazi/claude-code-proxy' && r.role === 'third-party',
        );
        expect(readFileSync(`/proc/${seifDir.pid}/cwd/requests.jsonl`, 'utf8')).to.contain('POST /v1/messages');
      },
    );

    it(
      'a streamed answer comes back event by event through all ' + 'three proxies, translated to Anthropic events',
      async () => {
        const res = await chain.postMessage('hi', {}, { stream: true });
        expect(res.status).to.equal(200);
        expect(res.headers['content-type']).to.match(/^text\/event-stream/);
        const arrivals = res.chunks;
        const all = arrivals.map((c) => c.text).join('');
        const deltas = [...all.matchAll(/"text":"([^"]*)"/g)].map((m) => m[1]).filter(Boolean);
        expect(deltas.join('')).to.equal('hello from openai');
        // The provider sends its three chunks 30 ms apart; a buffering hop would hand them over at once.
        const withDelta = arrivals.filter((c) => c.text.includes('content_block_delta'));
        expect(withDelta.length, 'chunks carrying deltas').to.be.at.least(2);
        expect(withDelta[withDelta.length - 1].at - withDelta[0].at).to.be.at.least(30);
      },
    );

    it(
      'a base-URL path sent through a tunnel is refused, so the token it would carry is never forwarded or ' +
        'recorded',
      async () => {
        const a = await chain.agent();
        const seen = provider.seen.length;
        const res = await timedRequest(
          a,
          `https://api.anthropic.com/_moat/${'ab'.repeat(32)}/https/api.anthropic.com/v1/models`,
        );
        await a.close();
        expect(res.status).to.equal(400);
        expect(provider.seen.length).to.equal(seen);
      },
    );

    it('tap 1 shows what Headroom changed', async () => {
      const tap = await chain.tapOne(1, () => chain.postMessage(LONG));
      expect(tap.code).to.equal(0);
      const record = JSON.parse(tap.stdout.trim());
      expect(record).to.deep.include({ hop: 1, hopName: 'chopratejas/headroom', method: 'POST', path: '/v1/messages' });
      expect(record.requestBody).to.deep.equal([
        'messages[0].content: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." (1000 chars) -> ' +
          '"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." (233 chars)',
      ]);
      expect(record.requestBytes.after).to.be.lessThan(record.requestBytes.before);
      // Read by the Anthropic adapter on both sides of the hop: what Headroom saved, in (estimated) tokens.
      expect(record.tokens.before).to.be.greaterThan(250);
      expect(record.tokens.after).to.be.lessThan(80);
    });

    it('a request outside the scopes skips the base_url hops, recorded as skipped', async () => {
      const a = await chain.agent();
      const res = await timedRequest(a, 'https://api.openai.com/v1/models');
      expect(res.status).to.equal(200);
      expect(res.body).to.equal(MODELS_BODY);
      const models = await timedRequest(a, 'https://api.anthropic.com/v1/models');
      await a.close();
      expect(models.status).to.equal(200);
      let openai: MoatEvent | undefined;
      for (let i = 0; i < 100 && !openai; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const ledger = await Ledger.open(chain.layout.ledgerFile, true);
        const rows = (await ledger.rows()).map((r) => JSON.parse(r.event) as MoatEvent);
        await ledger.close();
        openai = rows.find((e) => e.host === 'api.openai.com' && e.path === '/v1/models' && e.boundary === 0);
      }
      const trace = openai!.trace;
      const all = await events(trace, 12);
      const decisions = (b: number) => all.find((e) => e.boundary === b && e.direction === 'request')?.decision;
      expect([decisions(0), decisions(1), decisions(2)]).to.deep.equal(['skipped', 'skipped', 'skipped']);
      // The link in front of each hop still sees the request on its way round the hops before it.
      expect([...new Set(all.map((e) => e.boundary))].sort()).to.deep.equal([0, 1, 2, 3, 4, 5]);
      expect(decisions(4)).to.equal('allow');
    });
  },
);

describe('contrib-proxies: tinyproxy, mitmproxy and Headroom (stand-in) together with the built-in hops', function () {
  this.timeout(120_000);
  const HOPS = ['moat-telemetry', 'tinyproxy', 'mitmproxy', 'chopratejas/headroom', 'moat-policy'];
  const { chain, provider } = chainFixture({
    env: { PATH: `${STAND_INS}:${process.env.PATH}` },
    config: (provider) => `proxies: [${HOPS.join(', ')}]\ncapture:\n  bodies: full\n${egressTo(provider.port)}\n`,
  });

  it('carries a streamed answer through all five hops, event by event', async () => {
    const res = await chain.postMessage(LONG, {}, { stream: true, query: '?events=4&interval=80' });
    expect(res.status).to.equal(200);
    const ticks: number[] = [];
    for (const chunk of res.chunks) for (const _ of chunk.text.matchAll(/event: tick/g)) ticks.push(chunk.at);
    expect(ticks).to.have.length(4);
    // 80 ms apart at the provider: a hop that buffered would deliver them together.
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1], `gap ${i}`).to.be.within(40, 400);
    expect(JSON.parse(provider.seen.pop()!.body).messages[0].content).to.have.length(233);
  });

  it('tap shows every hop, and only Headroom changed the request', async () => {
    // tap --history reads the ledger: wait until the streamed request is in it at all 6 boundaries, both ways.
    for (let i = 0; i < 100; i++) {
      const ledger = await Ledger.open(chain.layout.ledgerFile, true);
      const rows = (await ledger.rows())
        .map((r) => JSON.parse(r.event) as MoatEvent)
        .filter((e) => e.path === '/v1/messages');
      await ledger.close();
      if (rows.length >= 12) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const changes: string[][] = [];
    for (let hop = 1; hop <= HOPS.length; hop++) {
      const res = await chain.cli(['tap', String(hop), '--json', '--history', '1', '--count', '1']);
      expect(res.code, res.stderr).to.equal(0);
      const record = JSON.parse(res.stdout.trim());
      expect(record).to.deep.include({ hop, hopName: HOPS[hop - 1], method: 'POST', path: '/v1/messages' });
      changes.push(record.requestBody);
    }
    expect(changes.map((c) => c.length)).to.deep.equal([0, 0, 0, 1, 0]);
    expect(changes[3][0]).to.match(/^messages\[0\]\.content: .* \(1000 chars\) -> .* \(233 chars\)$/);
  });
});
