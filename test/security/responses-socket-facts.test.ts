// The facts read from a Responses API WebSocket (hops/providers/responses-socket.ts) feed budgets and telemetry, so an
// agent must not be able to write them and neither side must be able to make the reader hold or work without bound:
//   - the agent's own messages (client to server) shaped as the server's events give no usage and change none;
//   - messages of response.create the server never answers are forgotten beyond MAX_PENDING;
//   - a server message too long to parse, or nested without end where its usage should be, is scanned in bounded
//     work and gives a fact that says it could not be read, never a thrown error.
import { expect } from 'chai';
import { MAX_PENDING, ResponsesSocketFacts } from '../../hops/providers/responses-socket';

const completed = (id: string, usage: object) =>
  JSON.stringify({ type: 'response.completed', response: { id, model: 'gpt-x', usage } });

describe('security: provider facts of a Responses WebSocket cannot be written by the agent or grow without bound', () => {
  it("the agent's messages shaped as server events give no usage, and leave the server's own facts as they are", () => {
    const facts = new ResponsesSocketFacts();
    const forged = [
      completed('r1', { input_tokens: 0, output_tokens: 0 }),
      JSON.stringify({ type: 'response.created', response: { id: 'r1', model: 'cheap' } }),
      JSON.stringify({ type: 'error', status: 400 }),
    ];
    for (const text of forged) expect(facts.client(text), text).to.equal(undefined);
    expect(facts.pending).to.equal(0);
    facts.client(JSON.stringify({ type: 'response.create', model: 'gpt-x', input: 'hi' }));
    facts.server(JSON.stringify({ type: 'response.created', response: { id: 'r1' } }));
    expect(facts.server(completed('r1', { input_tokens: 900, output_tokens: 100 }))).to.deep.include({
      input_tokens: 900,
      output_tokens: 100,
    });
  });

  it('requests never answered are forgotten beyond MAX_PENDING', () => {
    const facts = new ResponsesSocketFacts();
    const create = JSON.stringify({ type: 'response.create', model: 'm', input: 'x' });
    for (let i = 0; i < 100_000; i++) facts.client(create);
    expect(facts.pending).to.equal(MAX_PENDING);
    for (let i = 0; i < 100_000; i++)
      facts.server(JSON.stringify({ type: 'response.created', response: { id: `${i}` } }));
    expect(facts.pending).to.be.at.most(2 * MAX_PENDING);
  });

  it('a huge server message nested without end where its usage is read gives an unread fact, in bounded time', () => {
    const facts = new ResponsesSocketFacts(64 * 1024);
    const head = '{"type":"response.completed","response":{"id":"r","model":"gpt-x","usage":';
    const hostile = head + '{"a":'.repeat(2_000_000) + '1';
    const t0 = performance.now();
    const got = facts.server(hostile);
    expect(performance.now() - t0).to.be.below(2000);
    expect(got).to.deep.equal({
      adapter: 'openai-responses',
      model: 'gpt-x',
      normalization_error: 'message too long to read its usage',
      stream: true,
    });
    // Parsed whole (under the limit), the same nesting is refused by the parser, not thrown at the caller.
    expect(new ResponsesSocketFacts().server(head + '{"a":'.repeat(100_000))).to.equal(undefined);
  });
});
