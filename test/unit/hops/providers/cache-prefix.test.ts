// The prompt-cache guard's hash (no sockets): the same prefix gives the same hash; a change in tools, system or an
// earlier message gives another; a change after the last cache_control breakpoint (or in the newest turn) does not.
import { expect } from 'chai';
import { cachePrefix, chainSalt, prefixChanged } from '../../../../hops/providers/cache-prefix';
import { requestFacts } from '../../../../hops/providers/adapters';
import type { AdapterName } from '../../../../hops/providers/facts';

const SALT = chainSalt(Buffer.from('test ca key'), 'test');
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const anthropicWithBreakpoint = {
  model: 'claude-x',
  tools: [{ name: 'bash', input_schema: {} }],
  system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'first', cache_control: { type: 'ephemeral' } }] },
    { role: 'assistant', content: 'ok' },
    { role: 'user', content: [{ type: 'text', text: 'newest question' }] },
  ],
};
const anthropicNoBreakpoint = {
  model: 'claude-x',
  tools: [{ name: 'bash' }],
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'hi' }],
};
const openaiChat = {
  model: 'gpt-x',
  tools: [{ type: 'function', function: { name: 'bash' } }],
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'first' },
    { role: 'assistant', content: 'ok' },
    { role: 'user', content: 'newest' },
  ],
};
const openaiResponses = {
  model: 'gpt-x',
  instructions: 'You are terse.',
  input: [
    { role: 'user', content: 'first' },
    { role: 'user', content: 'newest' },
  ],
};

type Body = Record<string, any>;
type Row = [string, (b: Body) => unknown, 'same' | 'different'];
const groups: { adapter: AdapterName; body: Body; rows: Row[] }[] = [
  {
    adapter: 'anthropic-messages',
    body: anthropicWithBreakpoint,
    rows: [
      ['anthropic: nothing changed', () => undefined, 'same'],
      ['anthropic: the model changed', (b) => (b.model = 'y'), 'same'],
      ['anthropic: the system prompt changed', (b) => (b.system[0].text = 'You are verbose.'), 'different'],
      ['anthropic: a tool changed', (b) => (b.tools[0].name = 'sh'), 'different'],
      [
        'anthropic: the message with the last breakpoint changed',
        (b) => (b.messages[0].content[0].text = 'X'),
        'different',
      ],
      ['anthropic: a message after the last breakpoint changed', (b) => (b.messages[2].content[0].text = 'Y'), 'same'],
      ['anthropic: a message after the last breakpoint was dropped', (b) => b.messages.splice(1, 2), 'same'],
      ['anthropic: a breakpoint was removed', (b) => delete b.messages[0].content[0].cache_control, 'different'],
    ],
  },
  {
    adapter: 'anthropic-messages',
    body: anthropicNoBreakpoint,
    rows: [
      ['anthropic, no breakpoint: the system prompt changed', (b) => (b.system = 'You are verbose.'), 'different'],
      ['anthropic, no breakpoint: the messages changed', (b) => (b.messages[0].content = 'bye'), 'same'],
    ],
  },
  {
    adapter: 'openai-chat',
    body: openaiChat,
    rows: [
      ['openai chat: the system message changed', (b) => (b.messages[0].content = 'You are verbose.'), 'different'],
      ['openai chat: an earlier message changed', (b) => (b.messages[1].content = 'FIRST'), 'different'],
      ['openai chat: a tool changed', (b) => (b.tools[0].function.name = 'sh'), 'different'],
      ['openai chat: the newest message changed', (b) => (b.messages[3].content = 'x'), 'same'],
    ],
  },
  {
    adapter: 'openai-responses',
    body: openaiResponses,
    rows: [
      ['openai responses: the instructions changed', (b) => (b.instructions = 'You are verbose.'), 'different'],
      ['openai responses: the newest input changed', (b) => (b.input[1].content = 'x'), 'same'],
    ],
  },
];

describe('cache prefix hashing (no sockets)', () => {
  for (const { adapter, body, rows } of groups)
    for (const [name, change, expected] of rows) {
      it(`${name}: ${expected} hash`, () => {
        const changed = clone(body);
        change(changed);
        const a = cachePrefix(adapter, clone(body), SALT)!;
        const b = cachePrefix(adapter, changed, SALT)!;
        expect(a.hash).to.match(/^[0-9a-f]{16}$/);
        if (expected === 'same') expect(b.hash).to.equal(a.hash);
        else expect(b.hash).to.not.equal(a.hash);
      });
    }

  it('says what the prefix covers', () => {
    expect(cachePrefix('anthropic-messages', anthropicWithBreakpoint, SALT)!.basis).to.equal('cache_control');
    expect(cachePrefix('anthropic-messages', anthropicNoBreakpoint, SALT)!.basis).to.equal('tools+system');
    expect(cachePrefix('openai-chat', openaiChat, SALT)!.basis).to.equal('all_but_last');
    expect(cachePrefix('gemini', { contents: [] }, SALT)).to.equal(undefined);
  });

  it('whitespace in the body does not change the hash (the parsed body is hashed)', () => {
    const host = 'api.anthropic.com';
    const a = requestFacts(host, '/v1/messages', JSON.stringify(anthropicNoBreakpoint), false, SALT)!;
    const b = requestFacts(host, '/v1/messages', JSON.stringify(anthropicNoBreakpoint, null, 2), false, SALT)!;
    expect(a.cache_prefix).to.be.a('string').and.equal(b.cache_prefix);
  });

  it('is salted per chain: another chain (or no salt) gives another hash, or none', () => {
    const other = chainSalt(Buffer.from('test ca key'), 'other');
    expect(cachePrefix('openai-chat', openaiChat, other)!.hash).to.not.equal(
      cachePrefix('openai-chat', openaiChat, SALT)!.hash,
    );
    expect(requestFacts('api.openai.com', '/v1/chat/completions', JSON.stringify(openaiChat), false)).to.not.have.key(
      'cache_prefix',
    );
  });

  it('prefixChanged: only when both sides have a hash and they differ', () => {
    expect(prefixChanged({ cache_prefix: 'a' }, { cache_prefix: 'b' })).to.equal(true);
    expect(prefixChanged({ cache_prefix: 'a' }, { cache_prefix: 'a' })).to.equal(false);
    expect(prefixChanged({ cache_prefix: 'a' }, {})).to.equal(false);
    expect(prefixChanged(undefined, { cache_prefix: 'a' })).to.equal(false);
  });
});
