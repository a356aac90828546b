// Provider adapters: chosen by host and path (never by sniffing bodies), each reading a request
// and a response body into ProviderFacts. Pure: tested without sockets.
// `any`: providers' JSON bodies are read as they come, field by field, each read checked.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { estimateTokens, textOf, type AdapterName, type ProviderFacts } from './facts';
import { sseJson } from './sse';
import { cachePrefix } from './cache-prefix';

interface Adapter {
  name: AdapterName;
  request(body: Record<string, any>): Omit<ProviderFacts, 'adapter'>;
  /** JSON body, or the JSON data of each SSE event when streamed. */
  response(
    body: Record<string, any> | undefined,
    events: Record<string, any>[] | undefined,
  ): Omit<ProviderFacts, 'adapter'>;
}

const anthropicCache = (u: any) => ({
  cache_creation_input_tokens: u?.cache_creation_input_tokens,
  cache_read_input_tokens: u?.cache_read_input_tokens,
});

const anthropic: Adapter = {
  name: 'anthropic-messages',
  request: (b) => ({
    model: b.model,
    messages: Array.isArray(b.messages) ? b.messages.length : undefined,
    tools: Array.isArray(b.tools) ? b.tools.map((t: any) => String(t?.name)) : undefined,
    tokens_estimate: estimateTokens(textOf([b.system, b.messages])),
    stream: b.stream === true,
  }),
  response: (b, events) => {
    if (b)
      return {
        model: b.model,
        input_tokens: b.usage?.input_tokens,
        output_tokens: b.usage?.output_tokens,
        ...anthropicCache(b.usage),
      };
    const start = events!.find((e) => e.type === 'message_start')?.message;
    const delta = [...events!].reverse().find((e) => e.type === 'message_delta');
    return {
      model: start?.model,
      input_tokens: start?.usage?.input_tokens,
      output_tokens: delta?.usage?.output_tokens ?? start?.usage?.output_tokens,
      ...anthropicCache(start?.usage),
      stream: true,
    };
  },
};

const openaiChat: Adapter = {
  name: 'openai-chat',
  request: (b) => ({
    model: b.model,
    messages: Array.isArray(b.messages) ? b.messages.length : undefined,
    tools: Array.isArray(b.tools) ? b.tools.map((t: any) => String(t?.function?.name ?? t?.name)) : undefined,
    tokens_estimate: estimateTokens(textOf(b.messages)),
    stream: b.stream === true,
  }),
  response: (b, events) => {
    if (b)
      return {
        model: b.model,
        input_tokens: b.usage?.prompt_tokens,
        output_tokens: b.usage?.completion_tokens,
        cache_read_input_tokens: b.usage?.prompt_tokens_details?.cached_tokens,
      };
    const usage = [...events!].reverse().find((e) => e.usage)?.usage;
    return {
      model: events![0]?.model,
      input_tokens: usage?.prompt_tokens,
      output_tokens: usage?.completion_tokens,
      cache_read_input_tokens: usage?.prompt_tokens_details?.cached_tokens,
      stream: true,
    };
  },
};

const openaiResponses: Adapter = {
  name: 'openai-responses',
  request: (b) => ({
    model: b.model,
    messages: Array.isArray(b.input) ? b.input.length : b.input !== undefined ? 1 : undefined,
    tools: Array.isArray(b.tools) ? b.tools.map((t: any) => String(t?.name ?? t?.type)) : undefined,
    tokens_estimate: estimateTokens(textOf([b.instructions, b.input])),
    stream: b.stream === true,
  }),
  response: (b, events) => {
    const r = b ?? [...events!].reverse().find((e) => e.type === 'response.completed')?.response;
    return { ...responsesResponse(r), ...(b ? {} : { stream: true }) };
  },
};

/**
 * A Responses API response object's facts: the JSON body, the `response` of a streamed response.completed (SSE), or
 * of one read from a WebSocket (responses-socket.ts).
 */
export function responsesResponse(r: any): Omit<ProviderFacts, 'adapter'> {
  return {
    model: r?.model,
    input_tokens: r?.usage?.input_tokens,
    output_tokens: r?.usage?.output_tokens,
    cache_read_input_tokens: r?.usage?.input_tokens_details?.cached_tokens,
  };
}

const gemini: Adapter = {
  name: 'gemini',
  request: (b) => ({
    messages: Array.isArray(b.contents) ? b.contents.length : undefined,
    tools: Array.isArray(b.tools)
      ? b.tools.flatMap((t: any) => (t?.functionDeclarations ?? []).map((f: any) => String(f?.name)))
      : undefined,
    tokens_estimate: estimateTokens(textOf([b.systemInstruction, b.contents])),
  }),
  response: (b, events) => {
    const usage = b?.usageMetadata ?? [...(events ?? [])].reverse().find((e) => e.usageMetadata)?.usageMetadata;
    return {
      model: b?.modelVersion ?? events?.[0]?.modelVersion,
      input_tokens: usage?.promptTokenCount,
      output_tokens: usage?.candidatesTokenCount,
      ...(b ? {} : { stream: true }),
    };
  },
};

/** The adapter for a request, by host and path alone. */
export function adapterFor(host: string, path: string): Adapter | undefined {
  const p = path.split('?')[0];
  if (host === 'api.anthropic.com' && p === '/v1/messages') return anthropic;
  if (host === 'api.openai.com' && p === '/v1/chat/completions') return openaiChat;
  if (host === 'api.openai.com' && p === '/v1/responses') return openaiResponses;
  if (
    host === 'generativelanguage.googleapis.com' &&
    /^\/v1(beta)?\/models\/[^/]+:(generateContent|streamGenerateContent)$/.test(p)
  )
    return gemini;
  return undefined;
}

function model(path: string): string | undefined {
  return /\/models\/([^/:]+):/.exec(path)?.[1];
}

const clean = (f: ProviderFacts): ProviderFacts => JSON.parse(JSON.stringify(f)) as ProviderFacts; // drops undefined

/** salt: the chain's (cache-prefix.ts); without it no cache_prefix is recorded. */
export function requestFacts(
  host: string,
  path: string,
  body: string,
  truncated: boolean,
  salt?: Buffer,
): ProviderFacts | undefined {
  const adapter = adapterFor(host, path);
  if (!adapter) return undefined;
  if (truncated) return { adapter: adapter.name, normalization_error: 'body longer than the copy kept for reading it' };
  try {
    const b = JSON.parse(body);
    if (!b || typeof b !== 'object' || Array.isArray(b))
      return { adapter: adapter.name, normalization_error: 'body is not a JSON object' };
    const facts = clean({ adapter: adapter.name, ...adapter.request(b) });
    if (adapter.name === 'gemini') facts.model ??= model(path);
    const prefix = salt && cachePrefix(adapter.name, b, salt);
    if (prefix) {
      facts.cache_prefix = prefix.hash;
      facts.cache_prefix_basis = prefix.basis;
    }
    return facts;
  } catch {
    return { adapter: adapter.name, normalization_error: 'body is not JSON' };
  }
}

export function responseFacts(
  host: string,
  path: string,
  body: string,
  contentType: string | undefined,
  truncated: boolean,
): ProviderFacts | undefined {
  const adapter = adapterFor(host, path);
  if (!adapter) return undefined;
  if (truncated) return { adapter: adapter.name, normalization_error: 'body longer than the copy kept for reading it' };
  try {
    if (String(contentType ?? '').startsWith('text/event-stream')) {
      const events = sseJson(body);
      if (events.length === 0) return { adapter: adapter.name, normalization_error: 'stream has no JSON events' };
      return clean({ adapter: adapter.name, ...adapter.response(undefined, events) });
    }
    const b = JSON.parse(body);
    if (!b || typeof b !== 'object' || Array.isArray(b))
      return { adapter: adapter.name, normalization_error: 'body is not a JSON object' };
    return clean({ adapter: adapter.name, ...adapter.response(b, undefined) });
  } catch {
    return { adapter: adapter.name, normalization_error: 'body is not JSON' };
  }
}
