// Provider facts from the OpenAI Responses API over WebSocket (wss://api.openai.com/v1/responses, what Codex CLI uses):
// the client sends `response.create` messages (the body of POST /v1/responses with a `type`), the server answers each
// with the events of its SSE stream, one JSON text message each, ending in response.completed (or failed, incomplete)
// with the model and usage. Fed one message at a time, it gives the same facts as the SSE path (adapters.ts,
// openai-responses), so budgets, telemetry and tap read Codex's usage whichever transport it picks. Pure, bounded:
// it keeps the models of at most MAX_PENDING responses in flight, never a message; a message longer than
// maxParseBytes is not parsed whole but scanned for its type (at its start) and its usage object (at its end).
// `any`: the events are JSON read as they come, field by field, each read checked.
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { ProviderFacts } from './facts';
import { requestFacts, responsesResponse } from './adapters';

export const RESPONSES_SOCKET_HOST = 'api.openai.com';
export const RESPONSES_SOCKET_PATH = '/v1/responses';
/** Responses asked for and not yet finished that are remembered (their model); older ones are forgotten. */
export const MAX_PENDING = 32;
const DEFAULT_MAX_PARSE_BYTES = 4 << 20;
/** How far into a long message its type is looked for. */
const HEAD_CHARS = 512;
const FINAL_TYPES = new Set(['response.completed', 'response.failed', 'response.incomplete']);

const clean = (f: ProviderFacts): ProviderFacts => JSON.parse(JSON.stringify(f)) as ProviderFacts; // drops undefined

/** Whether a WebSocket handshake to host/path is the Responses API's (its messages are read for facts). */
export function isResponsesSocket(host: string, path: string): boolean {
  return host === RESPONSES_SOCKET_HOST && path.split('?')[0] === RESPONSES_SOCKET_PATH;
}

/** The JSON object that starts at `text[from]` (`{`), or undefined when it does not end in the text. */
function objectAt(text: string, from: number): any {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      try {
        return JSON.parse(text.slice(from, i + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** What is read of one server message: its type, and for a final event the response's id, model and usage. */
interface ServerEvent {
  type?: string;
  response?: any;
  /** The message was too long or cut: only its head and its last usage object were read. */
  partial?: string;
}

export class ResponsesSocketFacts {
  /** Models of response.create messages not yet answered by a response.created, oldest first. */
  private readonly asked: (string | undefined)[] = [];
  /** Models of responses created and not finished, by response id. */
  private readonly running = new Map<string, string | undefined>();

  /** maxParseBytes: longer messages are scanned, not parsed; salt: the chain's, for the request's cache_prefix. */
  constructor(
    private readonly maxParseBytes = DEFAULT_MAX_PARSE_BYTES,
    private readonly salt?: Buffer,
  ) {}

  /**
   * A client-to-server text message. A `response.create` gives its request facts (as a POST /v1/responses body
   * would: model, messages, tools, estimate; stream is always true here); other messages give undefined.
   * truncated: the text is a cut copy of a longer message.
   */
  client(text: string, truncated = false): ProviderFacts | undefined {
    let facts: ProviderFacts | undefined;
    if (!truncated && text.length <= this.maxParseBytes) {
      try {
        const v = JSON.parse(text);
        if (v?.type !== 'response.create') return undefined;
      } catch {
        return undefined;
      }
      facts = requestFacts(RESPONSES_SOCKET_HOST, RESPONSES_SOCKET_PATH, text, false, this.salt);
    } else {
      // Not read whole: what its head says (Codex writes type and model first).
      const head = text.slice(0, HEAD_CHARS);
      if (!/^\s*\{\s*"type"\s*:\s*"response\.create"/.test(head)) return undefined;
      facts = {
        adapter: 'openai-responses',
        model: /"model"\s*:\s*"([^"\\]{1,200})"/.exec(head)?.[1],
        normalization_error: truncated
          ? 'body longer than the copy kept for reading it'
          : 'message too long to read whole',
      };
    }
    if (!facts) return undefined;
    this.remember(this.asked, facts.model);
    return clean({ ...facts, stream: true });
  }

  /**
   * A server-to-client text message. The final event of a response (response.completed, failed, incomplete) gives
   * its facts: model and usage as on the SSE path, stream: true; every other message gives undefined.
   */
  server(text: string, truncated = false): ProviderFacts | undefined {
    const event = this.read(text, truncated);
    if (event.type === 'error') {
      // The request it answers is over without a response.created.
      this.asked.shift();
      return undefined;
    }
    if (event.type === 'response.created') {
      const id = String(event.response?.id ?? '');
      const model = this.asked.length ? this.asked.shift() : undefined;
      if (id) {
        if (this.running.size >= MAX_PENDING) this.running.delete(this.running.keys().next().value!);
        this.running.set(id, model);
      }
      return undefined;
    }
    if (!event.type || !FINAL_TYPES.has(event.type)) return undefined;
    const id = event.response?.id === undefined ? undefined : String(event.response.id);
    let asked: string | undefined;
    if (id !== undefined && this.running.has(id)) {
      asked = this.running.get(id);
      this.running.delete(id);
    } else asked = this.asked.shift(); // a final event with no response.created before it
    const facts: ProviderFacts = { adapter: 'openai-responses', ...responsesResponse(event.response), stream: true };
    facts.model ??= asked;
    if (event.partial) facts.normalization_error = event.partial;
    return clean(facts);
  }

  /** How many responses are remembered as in flight (asked or running): bounded by 2 × MAX_PENDING. */
  get pending(): number {
    return this.asked.length + this.running.size;
  }

  private remember(list: (string | undefined)[], model: string | undefined): void {
    if (list.length >= MAX_PENDING) list.shift();
    list.push(model);
  }

  private read(text: string, truncated: boolean): ServerEvent {
    if (!truncated && text.length <= this.maxParseBytes) {
      try {
        const v = JSON.parse(text);
        return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
      } catch {
        return {};
      }
    }
    // Too long to parse whole, or cut: the type from the head; for a final event the response's id and model from
    // the head, its usage from the last usage object (the Responses API writes usage after the output).
    const head = text.slice(0, HEAD_CHARS);
    const type = /^\s*\{\s*"type"\s*:\s*"([^"\\]{1,64})"/.exec(head)?.[1];
    if (!type || (!FINAL_TYPES.has(type) && type !== 'response.created')) return { type };
    const id = /"response"\s*:\s*\{\s*"id"\s*:\s*"([^"\\]{1,200})"/.exec(head)?.[1];
    const model = /"model"\s*:\s*"([^"\\]{1,200})"/.exec(head)?.[1];
    const at = text.lastIndexOf('"usage"');
    const brace = at < 0 ? -1 : text.indexOf('{', at);
    const usage = brace < 0 ? undefined : objectAt(text, brace);
    const partial =
      usage === undefined
        ? truncated
          ? 'message longer than the copy kept for reading it'
          : 'message too long to read its usage'
        : undefined;
    return { type, response: { id, model, usage }, ...(partial ? { partial } : {}) };
  }
}
