// The facts a `when:` expression reads, built from one request: method, host and path (canonical, without the query),
// header names and values as records show them (credential headers [REDACTED], secrets DLP finds masked), the provider
// facts of the body (model, estimated input tokens, tool names), and for an MCP tool call its name and arguments (every
// string in them masked as redacted capture masks it). An expression never sees a credential. Pure.
import type { RequestView } from '../logic/view';
import { pathOnly } from '../logic/view';
import { redactHeaders, redactSecrets } from '../events/redact';
import { requestFacts } from '../providers/adapters';
import { checkFactBounds, type CelFacts } from './cel';

export interface CelCall {
  tool: string;
  arguments?: unknown;
}

/** The request's facts, without a tool call (tool "" and args {}); `withCall` adds one. */
export function celFacts(
  view: Pick<RequestView, 'method' | 'host' | 'path' | 'headers'>,
  body?: { text: string; complete: boolean; error?: string },
): CelFacts {
  // The costly facts (headers read by DLP, the body parsed) are made when an expression first reads them, once.
  let provider: ReturnType<typeof requestFacts> | null = null;
  const providerFacts = () =>
    (provider ??= body && !body.error ? requestFacts(view.host, view.path, body.text, !body.complete) : undefined);
  let headers: Record<string, string> | undefined;
  const facts = {
    method: view.method.toUpperCase(),
    host: view.host,
    path: pathOnly(view.path),
    tool: '',
    args: Object.create(null),
  } as CelFacts;
  return Object.defineProperties(facts, {
    headers: lazy(() => (headers ??= Object.assign(Object.create(null), redactHeaders(view.headers)))),
    model: lazy(() => providerFacts()?.model ?? ''),
    input_tokens: lazy(() => BigInt(providerFacts()?.tokens_estimate ?? 0)),
    tools: lazy(() => {
      const tools = providerFacts()?.tools ?? [];
      checkFactBounds(tools, 'tools');
      return tools;
    }),
  });
}

const lazy = (get: () => unknown): PropertyDescriptor => ({ get, enumerable: true });

/** The facts for one MCP tool call: its name and its arguments, masked; throws when they are over CEL's bounds. */
export function withCall(facts: CelFacts, call: CelCall): CelFacts {
  // Bounded first: masking reads every string, and the agent chose their number and size.
  checkFactBounds(call.arguments, 'args');
  const args = masked(call.arguments);
  // The request's facts (and their lazy reading) shared; the call's own on top.
  return Object.defineProperties(
    {},
    {
      ...Object.getOwnPropertyDescriptors(facts),
      tool: { value: call.tool, enumerable: true },
      args: {
        value: args && typeof args === 'object' && !Array.isArray(args) ? args : Object.create(null),
        enumerable: true,
      },
    },
  ) as CelFacts;
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
