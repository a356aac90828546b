// Provider adapters (no sockets): chosen by host and path, reading requests and responses (JSON and
// SSE) into facts, and saying normalization_error instead of guessing.
import { expect } from 'chai';
import { adapterFor, requestFacts, responseFacts } from '../../../../hops/providers/adapters';
import { parseSse } from '../../../../hops/providers/sse';
import { responseEvent } from '../../../../hops/events/boundary-events';
import { BodyTap } from '../../../../hops/events/body-tap';
import { gzipSync } from 'node:zlib';
import { asText } from '../../../../hops/providers/decode';

const ANTHROPIC = 'api.anthropic.com';
const OPENAI = 'api.openai.com';
const GEMINI = 'generativelanguage.googleapis.com';

describe('provider adapters (no sockets)', () => {
  const choice: [string, string, string | undefined][] = [
    [ANTHROPIC, '/v1/messages', 'anthropic-messages'],
    [ANTHROPIC, '/v1/messages?beta=true', 'anthropic-messages'],
    [ANTHROPIC, '/v1/models', undefined],
    [OPENAI, '/v1/chat/completions', 'openai-chat'],
    [OPENAI, '/v1/responses', 'openai-responses'],
    [GEMINI, '/v1beta/models/gemini-2.5-pro:generateContent', 'gemini'],
    [GEMINI, '/v1beta/models/gemini-2.5-pro:streamGenerateContent', 'gemini'],
    ['example.com', '/v1/messages', undefined], // by host and path, never by the body's look
  ];
  for (const [host, path, name] of choice) {
    it(`${host}${path} -> ${name ?? 'no adapter'}`, () => expect(adapterFor(host, path)?.name).to.equal(name));
  }

  it('Anthropic request: model, messages, tools, estimate, stream', () => {
    const body = JSON.stringify({
      model: 'claude-x',
      system: 'be brief',
      stream: true,
      tools: [{ name: 'bash' }, { name: 'edit' }],
      messages: [
        { role: 'user', content: 'x'.repeat(400) },
        { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
      ],
    });
    expect(requestFacts(ANTHROPIC, '/v1/messages', body, false)).to.deep.equal({
      adapter: 'anthropic-messages',
      model: 'claude-x',
      messages: 2,
      tools: ['bash', 'edit'],
      tokens_estimate: 108,
      stream: true,
    });
  });

  it('Anthropic response, JSON and SSE', () => {
    const json = JSON.stringify({ model: 'claude-x', usage: { input_tokens: 12, output_tokens: 3 } });
    expect(responseFacts(ANTHROPIC, '/v1/messages', json, 'application/json', false)).to.deep.equal({
      adapter: 'anthropic-messages',
      model: 'claude-x',
      input_tokens: 12,
      output_tokens: 3,
    });
    const sse =
      [
        'event: message_start\ndata: ' +
          '{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":25,"output_tokens":1}}' +
          '}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"hi"}}',
        'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15}}',
        'event: message_stop\ndata: {"type":"message_stop"}',
      ].join('\n\n') + '\n\n';
    expect(responseFacts(ANTHROPIC, '/v1/messages', sse, 'text/event-stream; charset=utf-8', false)).to.deep.equal({
      adapter: 'anthropic-messages',
      model: 'claude-x',
      input_tokens: 25,
      output_tokens: 15,
      stream: true,
    });
  });

  it('OpenAI chat completions request and streamed response with usage', () => {
    const body = JSON.stringify({
      model: 'gpt-x',
      messages: [{ role: 'user', content: 'abcd' }],
      tools: [{ type: 'function', function: { name: 'lookup' } }],
    });
    expect(requestFacts(OPENAI, '/v1/chat/completions', body, false)).to.deep.equal({
      adapter: 'openai-chat',
      model: 'gpt-x',
      messages: 1,
      tools: ['lookup'],
      tokens_estimate: 3,
      stream: false,
    });
    const sse =
      'data: {"model":"gpt-x","choices":[{"delta":{"content":"a"}}]}\n\ndata: ' +
      '{"model":"gpt-x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}\n\ndata: [DONE]\n\n';
    expect(responseFacts(OPENAI, '/v1/chat/completions', sse, 'text/event-stream', false)).to.deep.equal({
      adapter: 'openai-chat',
      model: 'gpt-x',
      input_tokens: 9,
      output_tokens: 4,
      stream: true,
    });
  });

  it('OpenAI responses and Gemini', () => {
    expect(
      requestFacts(
        OPENAI,
        '/v1/responses',
        JSON.stringify({ model: 'o-x', input: 'hello there', instructions: 'be kind' }),
        false,
      ),
    ).to.deep.include({ adapter: 'openai-responses', model: 'o-x', messages: 1 });
    expect(
      responseFacts(
        OPENAI,
        '/v1/responses',
        JSON.stringify({ model: 'o-x', usage: { input_tokens: 5, output_tokens: 7 } }),
        'application/json',
        false,
      ),
    ).to.deep.equal({ adapter: 'openai-responses', model: 'o-x', input_tokens: 5, output_tokens: 7 });
    const path = '/v1beta/models/gemini-2.5-pro:generateContent';
    expect(
      requestFacts(
        GEMINI,
        path,
        JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }], tools: [{ functionDeclarations: [{ name: 'f' }] }] }),
        false,
      ),
    ).to.deep.equal({ adapter: 'gemini', messages: 1, tools: ['f'], tokens_estimate: 1, model: 'gemini-2.5-pro' });
    expect(
      responseFacts(
        GEMINI,
        path,
        JSON.stringify({
          modelVersion: 'gemini-2.5-pro-001',
          usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 6 },
        }),
        'application/json',
        false,
      ),
    ).to.deep.equal({ adapter: 'gemini', model: 'gemini-2.5-pro-001', input_tokens: 4, output_tokens: 6 });
  });

  it('a body it cannot read is marked normalization_error, never guessed', () => {
    expect(requestFacts(ANTHROPIC, '/v1/messages', '{"model": "claude-x", "messa', false)).to.deep.equal({
      adapter: 'anthropic-messages',
      normalization_error: 'body is not JSON',
    });
    expect(requestFacts(ANTHROPIC, '/v1/messages', '[1,2]', false)).to.deep.equal({
      adapter: 'anthropic-messages',
      normalization_error: 'body is not a JSON object',
    });
    expect(requestFacts(ANTHROPIC, '/v1/messages', '{"model":"claude-x"}', true)).to.deep.equal({
      adapter: 'anthropic-messages',
      normalization_error: 'body longer than the copy kept for reading it',
    });
    expect(
      responseFacts(ANTHROPIC, '/v1/messages', 'event: ping\ndata: not json\n\n', 'text/event-stream', false),
    ).to.deep.equal({ adapter: 'anthropic-messages', normalization_error: 'stream has no JSON events' });
    expect(requestFacts('example.com', '/v1/messages', '{}', false)).to.equal(undefined);
  });

  it('parses SSE with CRLF, multi-line data and comments', () => {
    expect(parseSse(': comment\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: x\n\n')).to.deep.equal([
      { event: 'a', data: '1\n2' },
      { event: undefined, data: 'x' },
    ]);
  });

  it('reads a gzip-compressed response (clients ask for it), and names an encoding it cannot read', () => {
    const view = {
      method: 'POST',
      scheme: 'https' as const,
      host: ANTHROPIC,
      port: 443,
      path: '/v1/messages',
      headers: {},
      trace: 't',
    };
    const info = { chain: 'c', hop: 1, hopName: 'h', boundary: 0, capture: 'metadata' as const };
    const event = (body: Buffer, encoding: string) => {
      const tap = new BodyTap(1 << 20);
      tap.push(body);
      const headers = { 'content-type': 'application/json', 'content-encoding': encoding };
      return responseEvent(info, view, {
        status: 200,
        headers,
        body: { tap, contentType: 'application/json', streaming: false, captureLimit: 0 },
        elapsedMs: 1,
        ttfbMs: 1,
      });
    };
    const json = JSON.stringify({ model: 'claude-x', usage: { input_tokens: 7, output_tokens: 2 } });
    expect(event(gzipSync(json), 'gzip').provider).to.deep.equal({
      adapter: 'anthropic-messages',
      model: 'claude-x',
      input_tokens: 7,
      output_tokens: 2,
    });
    expect(event(Buffer.from(json), 'zstd').provider).to.deep.equal({
      adapter: 'anthropic-messages',
      normalization_error: 'body is compressed with zstd',
    });
    expect(event(Buffer.from('not gzip'), 'gzip').provider).to.deep.include({
      normalization_error: 'gzip body could not be inflated (cut, or larger than 4194304 bytes)',
    });
  });
});

describe('bodies as text (asText)', () => {
  it('decodes UTF-8 as UTF-8, and binary or a cut character as Latin-1 with every ASCII byte kept', () => {
    const json = Buffer.from('{"model":"claude-x","content":"Grüße"}');
    expect(asText(json)).to.equal('{"model":"claude-x","content":"Grüße"}');
    const secret = 'AKIAIOSFODNN7EXAMPLE';
    const binary = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), Buffer.from(secret), Buffer.from([0xc3])]);
    const text = asText(binary);
    expect(text).to.contain(secret);
    expect(text.length).to.equal(binary.length); // one character per byte: no replacement characters
    expect(asText(json.subarray(0, json.length - 4))).to.contain('"model":"claude-x"'); // cut inside "ß"
  });
});
