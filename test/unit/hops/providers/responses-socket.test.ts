// Provider facts from the Responses API over WebSocket (no sockets): messages as Codex CLI 0.171 and the API send
// them, fed one at a time, give per response the facts the SSE path gives for the same events.
import { expect } from 'chai';
import { isResponsesSocket, MAX_PENDING, ResponsesSocketFacts } from '../../../../hops/providers/responses-socket';
import { responseFacts } from '../../../../hops/providers/adapters';
import type { ProviderFacts } from '../../../../hops/providers/facts';

/** A response.create as Codex 0.171 sends it (fields in its order; the input cut short). */
function create(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: 'response.create',
    model: 'gpt-6.2-sol',
    stream: true,
    input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }],
    tool_choice: 'auto',
    parallel_tool_calls: false,
    reasoning: { effort: 'low', context: 'all_turns' },
    store: false,
    include: ['reasoning.encrypted_content'],
    prompt_cache_key: '01a2470b-293c-7351-81e8-2d58acebc371',
    text: { verbosity: 'low' },
    ...extra,
  });
}

const usage = (input: number, output: number, cached = 0) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: cached },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: input + output,
});

/** The server's events for one response, as JSON texts. */
function events(id: string, model: string, u: object, final = 'response.completed', output: unknown[] = []): string[] {
  const base = { id, object: 'response', created_at: 1, model };
  const item = { id: `msg_${id}`, type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi' }] };
  return [
    { type: 'response.created', sequence_number: 0, response: { ...base, status: 'in_progress', output: [] } },
    { type: 'response.in_progress', sequence_number: 1, response: { ...base, status: 'in_progress', output: [] } },
    { type: 'response.output_item.added', sequence_number: 2, output_index: 0, item },
    { type: 'response.output_text.delta', sequence_number: 3, output_index: 0, item_id: item.id, delta: 'Hi' },
    { type: 'response.output_item.done', sequence_number: 4, output_index: 0, item },
    { type: final, sequence_number: 5, response: { ...base, status: 'completed', output, usage: u } },
  ].map((e) => JSON.stringify(e));
}

/** Feeds client and server messages in order; returns the facts each message gave, with its index. */
function feed(messages: ['c' | 's', string][], facts = new ResponsesSocketFacts()): [number, ProviderFacts][] {
  const out: [number, ProviderFacts][] = [];
  messages.forEach(([from, text], i) => {
    const f = from === 'c' ? facts.client(text) : facts.server(text);
    if (f) out.push([i, f]);
  });
  return out;
}

describe('Responses API over WebSocket: provider facts (no sockets)', () => {
  it('is the Responses API socket only on api.openai.com /v1/responses', () => {
    expect(isResponsesSocket('api.openai.com', '/v1/responses')).to.equal(true);
    expect(isResponsesSocket('api.openai.com', '/v1/responses?x=1')).to.equal(true);
    expect(isResponsesSocket('api.openai.com', '/v1/realtime')).to.equal(false);
    expect(isResponsesSocket('example.com', '/v1/responses')).to.equal(false);
  });

  it("Codex's turn: a prewarm (generate: false), then the request naming it; facts per response as on SSE", () => {
    const prewarm = events('resp_1', 'gpt-6.2-sol-2026', usage(0, 0));
    const turn = events('resp_2', 'gpt-6.2-sol-2026', usage(2100, 7, 2048));
    const got = feed([
      ['c', create({ input: [], generate: false })],
      ['s', prewarm[0]],
      ['s', prewarm[5]],
      ['c', create({ previous_response_id: 'resp_1' })],
      ...turn.map((t) => ['s', t] as ['s', string]),
    ]);
    expect(got.map(([i]) => i)).to.deep.equal([0, 2, 3, 9]);
    expect(got[0][1]).to.deep.equal({
      adapter: 'openai-responses',
      model: 'gpt-6.2-sol',
      messages: 0,
      tokens_estimate: 1,
      stream: true,
    });
    expect(got[1][1]).to.deep.equal({
      adapter: 'openai-responses',
      model: 'gpt-6.2-sol-2026',
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      stream: true,
    });
    expect(got[2][1]).to.deep.include({ adapter: 'openai-responses', model: 'gpt-6.2-sol', messages: 1, stream: true });
    const completed = got[3][1];
    expect(completed).to.deep.equal({
      adapter: 'openai-responses',
      model: 'gpt-6.2-sol-2026',
      input_tokens: 2100,
      output_tokens: 7,
      cache_read_input_tokens: 2048,
      stream: true,
    });
    // The same events over SSE give the same facts.
    const sse = turn.map((t) => `event: ${JSON.parse(t).type}\ndata: ${t}\n\n`).join('');
    expect(responseFacts('api.openai.com', '/v1/responses', sse, 'text/event-stream', false)).to.deep.equal(completed);
  });

  const finals: [string, string, Record<string, unknown>][] = [
    ['completed', 'response.completed', { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 0 }],
    ['failed, with usage', 'response.failed', { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 0 }],
    ['incomplete', 'response.incomplete', { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 0 }],
  ];
  for (const [name, type, want] of finals) {
    it(`a response ${name} gives its facts`, () => {
      const got = feed([
        ['c', create()],
        ...events('r', 'm-1', usage(10, 2), type).map((t) => ['s', t] as ['s', string]),
      ]);
      expect(got.at(-1)![1]).to.deep.equal({ adapter: 'openai-responses', model: 'm-1', ...want, stream: true });
    });
  }

  const ignored: [string, string][] = [
    ['not JSON', 'hello'],
    ['a JSON array', '[1,2]'],
    ['another client event', JSON.stringify({ type: 'response.cancel', response_id: 'r' })],
    ['a create spelled otherwise', JSON.stringify({ type: 'Response.Create', model: 'm' })],
  ];
  for (const [name, text] of ignored) {
    it(`a client message that is ${name} gives no facts and leaves nothing pending`, () => {
      const facts = new ResponsesSocketFacts();
      expect(facts.client(text)).to.equal(undefined);
      expect(facts.server(text)).to.equal(undefined);
      expect(facts.pending).to.equal(0);
    });
  }

  it('the model comes from the request when the final event has none; an error event ends the request it answers', () => {
    const facts = new ResponsesSocketFacts();
    facts.client(create({ model: 'asked-1' }));
    expect(facts.server(JSON.stringify({ type: 'error', status: 400, error: { message: 'bad' } }))).to.equal(undefined);
    facts.client(create({ model: 'asked-2' }));
    facts.server(JSON.stringify({ type: 'response.created', response: { id: 'r2' } }));
    const done = facts.server(
      JSON.stringify({ type: 'response.completed', response: { id: 'r2', usage: usage(3, 4) } }),
    );
    expect(done).to.deep.include({ model: 'asked-2', input_tokens: 3, output_tokens: 4 });
    expect(facts.pending).to.equal(0);
  });

  it('a response.completed too long to parse is scanned: type and model from its head, usage from its end', () => {
    const output = [{ type: 'message', content: [{ type: 'output_text', text: 'x "usage": {}'.repeat(10_000) }] }];
    const big = events('r', 'm-big', usage(50, 60_000, 5), 'response.completed', output).at(-1)!;
    expect(big.length).to.be.greaterThan(100_000);
    const facts = new ResponsesSocketFacts(10_000);
    facts.client(create());
    expect(facts.server(big)).to.deep.equal({
      adapter: 'openai-responses',
      model: 'm-big',
      input_tokens: 50,
      output_tokens: 60_000,
      cache_read_input_tokens: 5,
      stream: true,
    });
  });

  it('a cut copy says so instead of guessing; the request model stands in', () => {
    const facts = new ResponsesSocketFacts();
    const asked = facts.client(create().slice(0, 120), true);
    expect(asked).to.deep.equal({
      adapter: 'openai-responses',
      model: 'gpt-6.2-sol',
      normalization_error: 'body longer than the copy kept for reading it',
      stream: true,
    });
    const cut = events('r', 'm-1', usage(1, 2)).at(-1)!.slice(0, 80);
    expect(facts.server(cut, true)).to.deep.equal({
      adapter: 'openai-responses',
      model: 'gpt-6.2-sol',
      normalization_error: 'message longer than the copy kept for reading it',
      stream: true,
    });
  });

  it('memory is bounded: requests never answered are forgotten beyond MAX_PENDING', () => {
    const facts = new ResponsesSocketFacts();
    for (let i = 0; i < MAX_PENDING * 10; i++) {
      facts.client(create({ model: `m${i}` }));
      facts.server(JSON.stringify({ type: 'response.created', response: { id: `r${i}` } }));
      facts.client(create({ model: `never-answered-${i}` }));
    }
    expect(facts.pending).to.be.at.most(2 * MAX_PENDING);
    // The newest running response is still known (by its id), with the model of a request.
    const last = MAX_PENDING * 10 - 1;
    const done = facts.server(JSON.stringify({ type: 'response.completed', response: { id: `r${last}`, usage: {} } }));
    expect(done?.model).to.match(/^(m|never-answered-)\d+$/);
    expect(facts.pending).to.be.at.most(2 * MAX_PENDING - 1);
  });
});
