// MCP over HTTP: JSON-RPC `tools/call` requests in a body (one message or a batch), and the
// JSON-RPC error a denied call gets back, which MCP clients report as a failed tool call. Pure.
// `any`: JSON-RPC messages are read as the agent sent them, field by field.
/* eslint-disable @typescript-eslint/no-explicit-any */

export interface ToolCall {
  id: string | number | null;
  tool: string;
  /** params.arguments as sent (read by `when:` expressions only, masked first: cel-facts.ts). */
  arguments?: unknown;
}

/** Code in JSON-RPC's range for server-defined errors. */
export const MCP_DENIED_CODE = -32001;

function isToolCall(m: unknown): m is { id?: string | number | null; params: { name: string; arguments?: unknown } } {
  if (!m || typeof m !== 'object') return false;
  const msg = m as Record<string, any>;
  return msg.jsonrpc === '2.0' && msg.method === 'tools/call' && typeof msg.params?.name === 'string';
}

/** The tool calls in a request body; empty when it is not JSON-RPC or calls no tool. */
export function toolCalls(body: string): ToolCall[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  return messages
    .filter(isToolCall)
    .map((m) => ({ id: m.id ?? null, tool: m.params.name, arguments: m.params.arguments }));
}

/** The response for denied calls: one error per call (an array for a batch). */
export function toolCallDenial(
  calls: readonly ToolCall[],
  batch: boolean,
  message: string,
  data: Record<string, unknown>,
): unknown {
  const errors = calls.map((c) => ({ jsonrpc: '2.0', id: c.id, error: { code: MCP_DENIED_CODE, message, data } }));
  return batch ? errors : errors[0];
}

export function isBatch(body: string): boolean {
  return body.trimStart().startsWith('[');
}
