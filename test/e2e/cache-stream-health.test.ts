// Which hop did it, end to end: three test hops (rewriting-proxy.ts) each break something. The prompt-cache guard
// names the one that rewrites the system prompt (tap, events, moat-telemetry, `moat chain cache` with the cost from
// the fake provider's cache usage); stream health names the one that buffers an SSE stream and the one that drops its
// `event:` lines, with the event counts before and after. Nothing of the prompt's text is recorded.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { filesUnder } from '../helpers/key-holders';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { WHICH_HOP_HOPS } from '../helpers/which-hop-hops';
import { tokens } from '../fixtures/fake-messages-api';
import type { MoatEvent } from '../../schemas/generated/event';

const SYSTEM = 'You are the moat test assistant; prompt-text-marker-5c1e never leaves the request.';
const TOOLS = [{ name: 'bash', description: 'runs a command', input_schema: { type: 'object' } }];
const INTERVAL_MS = 60;

function body(stream: boolean, question: string): string {
  return JSON.stringify({
    model: 'claude-x',
    max_tokens: 20,
    ...(stream ? { stream: true } : {}),
    tools: TOOLS,
    system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: question }],
  });
}

describe('which hop did it: the prompt-cache guard and per-hop stream health', function () {
  this.timeout(180_000);
  const { chain, provider } = chainFixture({
    provider: { messagesApi: true, cacheUsage: true, streamIntervalMs: INTERVAL_MS },
    config: (provider) => `proxies:
${WHICH_HOP_HOPS}
  - moat-telemetry
prices:
  "*": { input: 3, output: 15 }
${egressTo(provider.port)}
`,
  });

  let streamTrace = '';
  const taps: Record<number, any> = {};

  before(async () => {
    const agent = await chain.agent();
    try {
      for (const q of ['first question', 'second question']) {
        const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
          method: 'POST',
          body: body(false, q),
          headers: { 'content-type': 'application/json' },
        });
        expect(res.status, res.body).to.equal(200);
      }
    } finally {
      await agent.close();
    }
  });

  it('tap 1 marks the hop that rewrote the system prompt: cache_prefix_changed', async () => {
    const tap = await chain.tapOne(1, async () => {
      const agent = await chain.agent();
      const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
        method: 'POST',
        body: body(true, 'a streamed question'),
        headers: { 'content-type': 'application/json' },
      });
      await agent.close();
      expect(res.status).to.equal(200);
      expect(res.body).to.contain('message_stop');
      expect(res.body).to.not.contain('event:'); // the dropping hop took them out
    });
    expect(tap.code, tap.stderr).to.equal(0);
    const record = JSON.parse(tap.stdout.trim());
    streamTrace = record.trace;
    expect(record.hopName).to.equal('sysprompt');
    expect(record.cache_prefix_changed).to.equal(true);
    // The provider got the rewritten prompt: every request a new prefix, so every one a cache write.
    expect(provider.seen.at(-1)!.body).to.match(/\[context \d+\]/);
  });

  it('tap shows per hop the first-token delay and largest gap, and names the buffering and the dropping hops', async () => {
    // Boundaries 0 (ingress) to 4 (egress): every one has the response before tap reads them.
    await chain.ledgerEvents((e) => e.trace === streamTrace && e.direction === 'response', 5);
    for (const k of [1, 2, 3, 4]) {
      const res = await chain.cli(['tap', String(k), '--json', '--history', '1', '--count', '1']);
      expect(res.code, res.stderr).to.equal(0);
      taps[k] = JSON.parse(res.stdout.trim());
      expect(taps[k].trace).to.equal(streamTrace);
      expect(taps[k].stream, `hop ${k}`).to.be.an('object');
    }
    const [sysprompt, buffering, dropping, telemetry] = [taps[1], taps[2], taps[3], taps[4]];
    // The dropping hop (3): events as they came, their event: lines gone.
    expect(dropping.stream.events).to.deep.equal({ in: 8, out: 8 });
    expect(dropping.stream.changes).to.deep.equal(['event: lines lost (8 -> 0)']);
    expect(dropping.stream.buffered).to.equal(undefined);
    // The buffering hop (2): the same events, all at once at the end, so the first token came ~7 intervals late.
    expect(buffering.stream.events).to.deep.equal({ in: 8, out: 8 });
    expect(buffering.stream.changes).to.deep.equal([]);
    expect(buffering.stream.buffered.heldMs).to.be.at.least(INTERVAL_MS * 4);
    expect(buffering.stream.addedFirstMs).to.be.at.least(INTERVAL_MS * 4);
    expect(buffering.stream.largestGapMs.in).to.be.at.least(INTERVAL_MS / 2);
    // The others pass it on as they get it.
    for (const r of [sysprompt, telemetry]) {
      expect(r.stream.buffered, r.hopName).to.equal(undefined);
      expect(r.stream.changes, r.hopName).to.deep.equal([]);
    }
    expect(telemetry.cache_prefix_changed).to.equal(undefined);
    expect(buffering.cache_prefix_changed).to.equal(undefined); // it changes the model only: not the prefix

    const text = await chain.cli(['tap', '2', '--history', '1', '--count', '1']);
    expect(text.stdout).to.match(/stream events 8 -> 8 {3}first token \+\d+\.\d ms {3}largest gap/);
    expect(text.stdout).to.contain('stream buffered: events held');
    const dropped = await chain.cli(['tap', '3', '--history', '1', '--count', '1']);
    expect(dropped.stdout).to.contain('stream changed: event: lines lost (8 -> 0)');
    const one = await chain.cli(['tap', '1', '--history', '1', '--count', '1']);
    expect(one.stdout).to.contain('cache_prefix_changed');
  });

  it('`events` marks the hops: cache_prefix_changed, stream_buffered, stream_changed', async () => {
    const res = await chain.cli(['events', '--trace', streamTrace, '--json']);
    const events = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const marked = events
      .filter((e) => e.marks)
      .map((e) => `${e.hop_name}:${e.direction}:${e.marks.join('+')}`)
      .sort();
    expect(marked).to.deep.equal([
      'buffering:response:stream_buffered',
      'dropping:response:stream_changed',
      'sysprompt:request:cache_prefix_changed',
    ]);
    const lines = (await chain.cli(['events', '--trace', streamTrace])).stdout;
    expect(lines).to.match(/hop 1 sysprompt +request .* cache_prefix_changed/);
  });

  it('`moat chain cache` reports per hop the requests it changed and the cost of the cache writes', async () => {
    const res = await chain.cli(['cache', '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const report = JSON.parse(res.stdout);
    const byName = Object.fromEntries(report.hops.map((h: any) => [h.hop_name, h]));
    expect(byName.sysprompt).to.include({ hop: 1, requests: 3, prefix_changed: 3 });
    for (const other of ['buffering', 'dropping', 'moat-telemetry'])
      expect(byName[other], other).to.include({ prefix_changed: 0 });
    // Each request's new prefix (tools and the rewritten system, as the provider saw it) was written to the cache.
    const written = provider.seen
      .filter((s) => s.path === '/v1/messages')
      .map((s) => {
        const b = JSON.parse(s.body);
        return tokens(JSON.stringify([b.tools, b.system]));
      })
      .reduce((a, b) => a + b, 0);
    expect(byName.sysprompt.cache_write_tokens).to.equal(written);
    expect(byName.sysprompt.write_cost).to.be.closeTo((written * 3 * 1.25) / 1e6, 1e-9);
    expect(byName.sysprompt.as_read_cost).to.be.closeTo((written * 3 * 0.1) / 1e6, 1e-9);
    const text = (await chain.cli(['cache'])).stdout;
    expect(text).to.match(/^1 +sysprompt +3 +3 +\d+/m);
  });

  it('moat-telemetry counts the changed prefixes per hop and times the first token per hop', async () => {
    const url = (await chain.status()).find((r) => r.role === 'metrics').metrics_url;
    let metrics = '';
    for (let i = 0; i < 50; i++) {
      metrics = await (await fetch(url)).text();
      if (/moat_cache_prefix_changed_total\{hop="1",hop_name="sysprompt"\} 3/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(metrics).to.contain('moat_cache_prefix_changed_total{hop="1",hop_name="sysprompt"} 3');
    expect(metrics).to.not.match(/moat_cache_prefix_changed_total\{hop="[234]"/);
    expect(metrics).to.match(/moat_hop_time_to_first_token_seconds_count\{hop="2",hop_name="buffering"\} 1/);
    expect(metrics).to.match(/moat_hop_added_first_token_seconds_count\{hop="2",hop_name="buffering"\} 1/);
  });

  it('the prompt text itself is nowhere in the state directory or tap: only its salted hash', async () => {
    const stored = filesUnder(chain.layout.stateDir)
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
    expect(stored).to.not.contain('prompt-text-marker-5c1e');
    for (const r of Object.values(taps)) expect(JSON.stringify(r)).to.not.contain('prompt-text-marker');
    const events: MoatEvent[] = await chain.events();
    const hashes = events
      .filter((e) => e.trace === streamTrace && e.direction === 'request')
      .map((e) => (e.provider as any)?.cache_prefix);
    expect(hashes.every((h) => /^[0-9a-f]{16}$/.test(h))).to.equal(true);
  });
});
