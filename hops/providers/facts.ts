// What a provider adapter reads from a request or response body. Pure data; goes into events as `provider`.
export type AdapterName = 'anthropic-messages' | 'openai-chat' | 'openai-responses' | 'gemini';

export interface ProviderFacts {
  adapter: AdapterName;
  model?: string;
  /** Requests: how many messages (or contents) the request carries. */
  messages?: number;
  /** Requests: names of the tools offered to the model. */
  tools?: string[];
  /** Requests: estimated input tokens (characters of text / 4), for comparing before and after a hop. */
  tokens_estimate?: number;
  stream?: boolean;
  /** Responses: the provider's own usage figures. */
  input_tokens?: number;
  output_tokens?: number;
  /** Responses: prompt-cache usage: tokens written to the cache (Anthropic), read from it (Anthropic, OpenAI). */
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  /** Requests: the salted hash of the cacheable prefix, and what it covers (cache-prefix.ts). */
  cache_prefix?: string;
  cache_prefix_basis?: string;
  /** Set instead of guessing when the body could not be read (not JSON, cut at the copy limit, unknown shape). */
  normalization_error?: string;
}

/** Characters / 4: the usual rough estimate; only ever compared with itself (before vs after a hop). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** All the text in a value (strings anywhere in it), for the estimate. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).join(' ');
  if (value && typeof value === 'object')
    return Object.values(value as Record<string, unknown>)
      .map(textOf)
      .join(' ');
  return '';
}
