// The facts a `when:` expression reads, built from one request: method, host and path (canonical, without the query),
// header names and values as records show them (credential headers [REDACTED], secrets DLP finds masked), the provider
// facts of the body (model, estimated input tokens, tool names), and for an MCP tool call its name and arguments (every
// string in them masked as redacted capture masks it). An expression never sees a credential. Pure.
import type { RequestView } from '../logic/view';
import { pathOnly } from '../logic/view';
import { redactHeaders, redactSecrets } from '../events/redact';
import { requestFacts } from '../providers/adapters';
import type { CelFacts } from './cel';

export interface CelCall {
  tool: string;
  arguments?: unknown;
}

/** The request's facts, without a tool call (tool "" and args {}); `withCall` adds one. */
export function celFacts(
  view: Pick<RequestView, 'method' | 'host' | 'path' | 'headers'>,
  body?: { text: string; complete: boolean; error?: string },
): CelFacts {
  const provider = body && !body.error ? requestFacts(view.host, view.path, body.text, !body.complete) : undefined;
  return {
    method: view.method.toUpperCase(),
    host: view.host,
    path: pathOnly(view.path),
    headers: Object.assign(Object.create(null), redactHeaders(view.headers)),
    model: provider?.model ?? '',
    input_tokens: BigInt(provider?.tokens_estimate ?? 0),
    tools: provider?.tools ?? [],
    tool: '',
    args: Object.create(null),
  };
}

/** The facts for one MCP tool call: its name and its arguments, masked. */
export function withCall(facts: CelFacts, call: CelCall): CelFacts {
  const args = masked(call.arguments);
  return {
    ...facts,
    tool: call.tool,
    args: args && typeof args === 'object' && !Array.isArray(args) ? (args as Record<string, unknown>) : Object.create(null),
  };
}

/** JSON data as CEL reads it: strings masked, objects without a prototype, numbers as doubles. */
function masked(value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (Array.isArray(value)) return value.map(masked);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value)) out[redactSecrets(k)] = masked(v);
    return out;
  }
  return value;
}
