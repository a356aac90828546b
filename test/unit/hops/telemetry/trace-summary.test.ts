// One trace's events in, what the request did out: latency per hop, TTFB, tokens, cost,
// decisions, who answered (pure, no sockets). Chain: [moat-telemetry, moat-policy] + egress.
import { expect } from 'chai';
import type { MoatEvent } from '../../../../schemas/generated/event';
import { TraceEvents, digestOf } from '../../../../hops/telemetry/trace-events';
import { summarizeTrace, statusClass, type TraceSummary } from '../../../../hops/telemetry/trace-summary';
import { event, exchange, streamHealth } from '../../../helpers/synthetic-events';

const PRICES = { 'claude-*': { input: 3, output: 15 } };
const LAST = 2;

function summarize(events: MoatEvent[], last = LAST): TraceSummary {
  const t = new TraceEvents();
  for (const e of events) t.add(digestOf(e)!);
  return summarizeTrace('t', t, last, PRICES);
}

const usage = (model: string | undefined, input: number, output: number) => ({
  provider: { adapter: 'anthropic-messages', ...(model ? { model } : {}), input_tokens: input, output_tokens: output },
});
const asks = (model: string) => ({ provider: { adapter: 'anthropic-messages', model, tokens_estimate: 10 } });
const allow = { decision: 'allow', reason: 'no rule matched' };

const CASES: { name: string; events: MoatEvent[]; last?: number; expect: Partial<TraceSummary> }[] = [
  {
    name: 'a provider call through both hops: each hop added its before minus its after; usage and cost from egress',
    events: exchange('t', [
      { elapsed: 52, ttfb: 30 },
      { elapsed: 47, request: { ...allow, ...asks('claude-x') }, response: allow },
      { elapsed: 40, request: asks('claude-x'), response: usage(undefined, 1000, 200) },
    ]),
    expect: {
      status: 200,
      decision: 'allow',
      answeredBy: 'upstream',
      ttfbMs: 30,
      durationMs: 52,
      upstreamMs: 40,
      complete: true,
      hops: [
        { hop: 1, hopName: 'moat-telemetry', addedMs: 5 },
        { hop: 2, hopName: 'moat-policy', addedMs: 7 },
      ],
      decisions: [{ hop: 2, hopName: 'moat-policy', decision: 'allow' }],
      usage: { model: 'claude-x', inputTokens: 1000, outputTokens: 200, cost: (1000 * 3 + 200 * 15) / 1e6 },
    },
  },
  {
    name: 'denied by moat-policy: hop 2 answered and took all of its time; nothing reached egress',
    events: exchange('t', [
      { elapsed: 3, status: 403 },
      {
        elapsed: 1.5,
        status: 403,
        request: { decision: 'deny', rule: 'no-internal' },
        response: { decision: 'deny', rule: 'no-internal', error: 'policy_denied' },
      },
    ]),
    expect: {
      status: 403,
      decision: 'deny',
      answeredBy: 'moat-policy',
      complete: true,
      hops: [
        { hop: 1, hopName: 'moat-telemetry', addedMs: 1.5 },
        { hop: 2, hopName: 'moat-policy', addedMs: 1.5 },
      ],
      decisions: [{ hop: 2, hopName: 'moat-policy', decision: 'deny', rule: 'no-internal' }],
    },
  },
  {
    name: 'usage is what the provider said (innermost boundary), the model what was sent to it (a hop rewrote it)',
    events: exchange('t', [
      { elapsed: 20, request: asks('claude-x'), response: usage('claude-x', 1, 1) },
      { elapsed: 15, request: asks('claude-rewritten') },
      { elapsed: 10, request: asks('claude-rewritten'), response: usage(undefined, 40, 4) },
    ]),
    expect: { usage: { model: 'claude-rewritten', inputTokens: 40, outputTokens: 4, cost: (40 * 3 + 4 * 15) / 1e6 } },
  },
  {
    name: 'a model without a price: tokens, no cost (never a guessed zero)',
    events: exchange('t', [
      { elapsed: 3 },
      { elapsed: 2 },
      { elapsed: 1, request: asks('llama-3'), response: usage(undefined, 9, 3) },
    ]),
    expect: { usage: { model: 'llama-3', inputTokens: 9, outputTokens: 3 } },
  },
  {
    name: 'usage without any model named',
    events: exchange('t', [{ elapsed: 3 }, { elapsed: 2 }, { elapsed: 1, response: usage(undefined, 9, 3) }]),
    expect: { usage: { model: 'unknown', inputTokens: 9, outputTokens: 3 } },
  },
  {
    name: 'egress could not reach the destination: egress answered 502',
    events: exchange('t', [
      { elapsed: 9, status: 502 },
      { elapsed: 8, status: 502 },
      { elapsed: 7, status: 502, response: { error: 'upstream_unavailable' } },
    ]),
    expect: {
      status: 502,
      answeredBy: 'egress',
      upstreamMs: 7,
      hops: [
        { hop: 1, hopName: 'moat-telemetry', addedMs: 1 },
        { hop: 2, hopName: 'moat-policy', addedMs: 1 },
      ],
    },
  },
  {
    name: 'hop 2 down: the process in front of it answered 502 hop_unavailable',
    events: exchange('t', [{ elapsed: 2, status: 502, response: { error: 'hop_unavailable' } }]),
    expect: {
      status: 502,
      answeredBy: 'moat-telemetry',
      complete: true,
      hops: [{ hop: 1, hopName: 'moat-telemetry', addedMs: 2 }],
    },
  },
  {
    name: "boundary 1's response event was lost: hop 1 and hop 2 unknown, the trace incomplete",
    events: exchange('t', [{ elapsed: 9 }, { elapsed: 8 }, { elapsed: 7 }]).filter(
      (e) => !(e.boundary === 1 && e.direction === 'response'),
    ),
    expect: { hops: [], complete: false, upstreamMs: 7 },
  },
  {
    name: "boundary 1's events were all lost, egress's arrived: hop 1 is not charged with everything",
    events: exchange('t', [{ elapsed: 9 }, { elapsed: 8 }, { elapsed: 7 }]).filter((e) => e.boundary !== 1),
    expect: { hops: [], complete: false, upstreamMs: 7, answeredBy: 'upstream' },
  },
  {
    name: 'rounding never makes a negative latency',
    events: exchange('t', [{ elapsed: 5 }, { elapsed: 5.001 }, { elapsed: 1 }]),
    expect: {
      hops: [
        { hop: 1, hopName: 'moat-telemetry', addedMs: 0 },
        { hop: 2, hopName: 'moat-policy', addedMs: 4.001 },
      ],
    },
  },
  {
    name: 'the last hop dials directly (last boundary 1): its time and the destination are upstream',
    last: 1,
    events: exchange('t', [{ elapsed: 9 }, { elapsed: 6 }]),
    expect: {
      answeredBy: 'upstream',
      upstreamMs: 6,
      complete: true,
      hops: [{ hop: 1, hopName: 'moat-telemetry', addedMs: 3 }],
    },
  },
  {
    name: 'a request outside a base_url hop scope: skipped, recorded as a decision',
    events: exchange('t', [
      { elapsed: 3 },
      { elapsed: 2, request: { decision: 'skipped' }, response: { decision: 'skipped' } },
      { elapsed: 1 },
    ]),
    expect: { decision: 'allow', decisions: [{ hop: 2, hopName: 'moat-policy', decision: 'skipped' }] },
  },
  {
    name: 'the agent went away before an answer: status 0',
    events: [
      event('t', 0, 'request'),
      event('t', 0, 'response', { elapsed_ms: 4, ttfb_ms: 0, error: 'client_aborted' }),
    ],
    expect: { status: 0, ttfbMs: 0, durationMs: 4 },
  },
];

describe('trace summary: one request across the chain, from its events (no sockets)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const s = summarize(c.events, c.last);
      for (const [key, value] of Object.entries(c.expect)) expect((s as any)[key], key).to.deep.equal(value);
    });
  }

  it('method and host are what the agent sent (boundary 0)', () => {
    const s = summarize(
      exchange('t', [
        {
          elapsed: 2,
          request: { host: 'api.openai.com', method: 'GET' },
          response: { host: 'api.openai.com', method: 'GET' },
        },
        { elapsed: 1 },
        { elapsed: 1 },
      ]),
    );
    expect([s.method, s.host]).to.deep.equal(['GET', 'api.openai.com']);
  });

  it('a redelivered event (same boundary and direction) counts once', () => {
    const t = new TraceEvents();
    const e = event('t', 0, 'response', { elapsed_ms: 1 });
    expect(t.add(digestOf(e)!)).to.equal(true);
    expect(t.add(digestOf({ ...e, elapsed_ms: 99 })!)).to.equal(false);
    expect(t.get(0, 'response')!.elapsedMs).to.equal(1);
  });

  it('gap records and things that are not events have no digest', () => {
    expect(digestOf({ ...event('', 0, 'request'), direction: 'gap', gap: 3 })).to.equal(undefined);
    expect(digestOf({ hello: 'world' } as any)).to.equal(undefined);
    expect(digestOf({ ...event('t', 0, 'request'), boundary: 1.5 })).to.equal(undefined);
  });

  it('status classes', () => {
    expect([101, 200, 204, 301, 404, 429, 502, 0, 999].map(statusClass)).to.deep.equal([
      '1xx',
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '4xx',
      '5xx',
      'none',
      'none',
    ]);
  });
});

describe('trace summary: cache prefix and first token per hop (no sockets)', () => {
  const sse = (first: number) => ({ stream: streamHealth({ first_event_ms: first }) });
  it('names the hop whose boundaries have different prefixes; times the first event at each boundary', () => {
    const s = summarize(
      exchange('t', [
        { elapsed: 60, request: { provider: { cache_prefix: 'a' } }, response: sse(50) },
        { elapsed: 58, request: { provider: { cache_prefix: 'b' } }, response: sse(20) },
        { elapsed: 55, request: { provider: { cache_prefix: 'b' } }, response: sse(18) },
      ]),
    );
    expect(s.cachePrefixChanged).to.deep.equal([{ hop: 1, hopName: 'moat-telemetry' }]);
    expect(s.firstToken).to.deep.equal([
      { hop: 1, hopName: 'moat-telemetry', firstEventMs: 50, addedMs: 30 },
      { hop: 2, hopName: 'moat-policy', firstEventMs: 20, addedMs: 2 },
      { hop: 3, hopName: 'egress', firstEventMs: 18 },
    ]);
  });
});
