// bisect names the hop that broke a request even when the answer's status and fields stay the same: three test hops
// (rewriting-proxy.ts) each break one request, and only the chain's marks (event-marks.ts) or a stream's events show
// it. Hop 1 rewrites the system prompt (cache_prefix_changed: every request a prompt-cache write), hop 2 buffers an
// SSE stream (stream_buffered), hop 3 drops a stream's `event:` lines (stream_changed). Each request is broken by
// one hop only: a JSON Messages request with a system prompt; an OpenAI chat stream (data: lines only, 30 ms apart,
// so nothing for hop 3 to drop, and no system prompt in its cacheable prefix); a Messages stream with no messages for
// hop 1 to rewrite, sent in one write by the provider so hop 2 holds nothing back.
import { expect } from 'chai';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { WHICH_HOP_HOPS } from '../helpers/which-hop-hops';

const REQUESTS = {
  system: {
    url: 'https://api.anthropic.com/v1/messages',
    body: {
      model: 'claude-x',
      max_tokens: 20,
      system: [{ type: 'text', text: 'You are the moat test assistant.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'hello' }],
    },
  },
  openaiStream: {
    url: 'https://api.openai.com/v1/chat/completions',
    body: { model: 'gpt-x', stream: true, messages: [{ role: 'user', content: 'hello' }] },
  },
  messagesStream: {
    url: 'https://api.anthropic.com/v1/messages',
    body: { model: 'claude-x', max_tokens: 20, stream: true },
  },
};
type Which = keyof typeof REQUESTS;

describe('bisect names the hop by the marks it leaves: prompt rewriting, a buffered stream, a changed stream', function () {
  this.timeout(180_000);
  const { chain, provider } = chainFixture({
    provider: { messagesApi: true, cacheUsage: true, streamIntervalMs: 0 },
    config: (p) => `proxies:
${WHICH_HOP_HOPS}
  - moat-telemetry
capture:
  bodies: full
${egressTo(p.port, ['api.anthropic.com', 'api.openai.com'])}
`,
  });

  const traces = {} as Record<Which, string>;

  before(async () => {
    const agent = await chain.agent();
    try {
      // Each request twice, the second traced: its hops have their connections and leaf certificates already, so the
      // recorded stream's timing is the chain's, not its start's.
      for (const which of [...Object.keys(REQUESTS), ...Object.keys(REQUESTS)] as Which[]) {
        const { url, body } = REQUESTS[which];
        const res = await timedRequest(agent, url, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        });
        expect(res.status, res.body).to.equal(200);
        traces[which] = String(provider.seen[provider.seen.length - 1].headers.traceparent).split('-')[1];
      }
    } finally {
      await agent.close();
    }
    // Every boundary's response (with its stream health) is in the ledger before the traces are bisected.
    await chain.ledgerEvents((e) => e.direction === 'response' && Object.values(traces).includes(e.trace), 15);
  });

  async function bisect(which: Which) {
    const res = await chain.cli(['bisect', traces[which], '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const r = JSON.parse(res.stdout);
    expect(r.warnings, 'every replay’s events were read').to.equal(undefined);
    return { r, byHop: Object.fromEntries(r.hops.map((h: { hop: number }) => [h.hop, h])) };
  }

  it('the system prompt rewriter: without it the cacheable prefix is no longer changed', async () => {
    const { r, byHop } = await bisect('system');
    expect(r.baseline.marks).to.deep.equal(['cache_prefix_changed at hop 1']);
    expect(r.culprits, JSON.stringify(r)).to.deep.equal([1]);
    expect(byHop[1].change.marks).to.deep.equal({ gone: ['cache_prefix_changed at hop 1'], appeared: [] });
    // Only the replay without hop 1 reached the provider with the system prompt as the agent wrote it.
    const asWritten = provider.seen.filter(
      (s) => s.body.includes('You are the moat test assistant') && !s.body.includes('[context'),
    );
    expect(asWritten).to.have.length(1);
    for (const h of [2, 3, 4])
      expect(byHop[h], `hop ${h}: ${JSON.stringify(byHop[h])}`)
        .to.include({ skipped: true })
        .and.not.have.property('change');
    const text = await chain.cli(['bisect', traces.system]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout, text.stdout)
      .to.match(/hop 1 \(sysprompt\): without it the outcome changes: .*mark cache_prefix_changed at hop 1 gone/)
      .and.contain('hop 2 (buffering): without it the outcome is the same')
      .and.match(/the outcome depends on hop 1 \(sysprompt\)$/m);
  });

  it('the buffering hop: without it the stream is no longer held back; its events are the same', async () => {
    const { r, byHop } = await bisect('openaiStream');
    expect(r.baseline.marks).to.deep.equal(['stream_buffered at hop 2']);
    expect(r.culprits, JSON.stringify(r)).to.deep.equal([2]);
    expect(byHop[2].change).to.deep.equal({ body: [], marks: { gone: ['stream_buffered at hop 2'], appeared: [] } });
    for (const h of [1, 3, 4])
      expect(byHop[h], `hop ${h}: ${JSON.stringify(byHop[h])}`)
        .to.include({ skipped: true })
        .and.not.have.property('change');
  });

  it('the dropping hop: without it the stream keeps its event: lines, event by event', async () => {
    const { r, byHop } = await bisect('messagesStream');
    expect(r.baseline.marks).to.deep.equal(['stream_changed at hop 3']);
    expect(r.culprits, JSON.stringify(r)).to.deep.equal([3]);
    expect(byHop[3].change.marks).to.deep.equal({ gone: ['stream_changed at hop 3'], appeared: [] });
    expect(byHop[3].change.body)
      .to.include('+events[0].event: "message_start"')
      .and.include('+events[7].event: "message_stop"');
    for (const h of [1, 2, 4])
      expect(byHop[h], `hop ${h}: ${JSON.stringify(byHop[h])}`)
        .to.include({ skipped: true })
        .and.not.have.property('change');
    const text = await chain.cli(['bisect', traces.messagesStream]);
    expect(text.stdout).to.match(
      /hop 3 \(dropping\): without it the outcome changes: body .*mark stream_changed at hop 3 gone/,
    );
  });

  it('replay compares a stream by its events (the message id the provider varies; without hop 3, event names) and marks', async () => {
    const same = JSON.parse((await chain.cli(['replay', traces.messagesStream, '--json'])).stdout);
    expect(same.diff.body).to.have.length(1);
    expect(same.diff.body[0]).to.match(/^events\[0\]\.data\.message\.id: "msg_fake_\d+" -> "msg_fake_\d+"$/);
    const res = await chain.cli(['replay', traces.messagesStream, '--skip-hop', '3', '--json']);
    expect(res.code, res.stderr).to.equal(0);
    const r = JSON.parse(res.stdout);
    expect(r.skip).to.deep.equal({ hop: 3, name: 'dropping', skipped: true });
    expect(r.diff.body).to.include('+events[2].event: "ping"');
    // The dropping hop's mark, recorded on the original trace, is not on the replay without it.
    expect(same.marks).to.deep.equal({ recorded: ['stream_changed at hop 3'], replayed: ['stream_changed at hop 3'] });
    expect(r.marks).to.deep.equal({ recorded: ['stream_changed at hop 3'], replayed: [] });
    const text = await chain.cli(['replay', traces.messagesStream, '--skip-hop', '3']);
    expect(text.stdout).to.contain('  marks -stream_changed at hop 3');
  });
});
