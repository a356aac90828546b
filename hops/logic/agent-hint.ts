// The one sentence every denial says to the agent that got it (the `message` of the JSON body, the message of an MCP
// JSON-RPC error). Agents that are denied try to get round the proxy: they retry with --noproxy, open a direct
// connection, or try another host. The sentence says what was refused, by which rule and why, that moat is the only
// way out of this machine's sandbox (so going round it fails too), and what to do instead: stop, ask the user, or
// wait for a rate limit. Pure text.
//
// Never a secret and never the request body: `what` names the method and host only (DLP also reads the path and the
// query, where a secret may sit), or the MCP tools a rule denied by name; the reasons are the engine's, made of rule
// ids, detector labels, the configuration and the names a rule matched (never a value DLP found). The evaluator's
// own error message is not repeated (it could quote what it failed on).

/** The denials a Moat process answers with (their codes are in hops/logic/link-errors.ts). */
export type DenialCode =
  | 'policy_denied'
  | 'rate_limited'
  | 'outside_allowed_hours'
  | 'budget_exhausted'
  | 'dlp_blocked'
  | 'body_too_large_to_inspect'
  | 'body_not_inspectable'
  | 'policy_error'
  | 'blind_tunnel_undecidable'
  | 'egress_denied'
  | 'egress_address_refused';

export interface Denied {
  code: DenialCode;
  /** What was refused: from deniedWhat, deniedTools or a connection to a host. Never a path, a query or a body. */
  what: string;
  /** The rule that decided (a policy rule id, `dlp`); absent for egress's own checks. */
  rule?: string;
  /** Why, as the rule or check gives it. */
  reason: string;
  /** rate_limited: the seconds until a retry through moat can pass. */
  retryAfterS?: number;
}

/** Why retrying elsewhere is pointless: in every sentence. */
export const NO_WAY_ROUND =
  'retrying without the proxy or by another route fails too, as moat is the only way out of this sandbox';

/** Who decided, as the sentence names it. */
function decidedBy(d: Denied): string {
  if (d.code === 'egress_denied') return 'egress.allow';
  if (d.code === 'egress_address_refused') return 'egress address guard';
  if (d.rule === 'dlp') return 'DLP';
  if (d.code === 'policy_error' || !d.rule) return 'moat-policy';
  return `rule ${d.rule}`;
}

/** What the agent should do instead of going round. */
function nextStep(d: Denied): string {
  switch (d.code) {
    case 'rate_limited':
      return d.retryAfterS ? `wait ${d.retryAfterS} s, then retry through moat` : 'wait, then retry through moat';
    case 'budget_exhausted':
      return "today's budget is spent: stop, or ask the user";
    case 'dlp_blocked':
      return 'do not send the secret; stop, or ask the user';
    case 'egress_denied':
    case 'egress_address_refused':
      return 'stop, or ask the user to allow the host';
    default:
      return 'stop, or ask the user';
  }
}

/** The evaluator's error may quote what it read: the sentence says only that it failed. */
function reasonOf(d: Denied): string {
  return d.code === 'policy_error' ? 'its evaluator failed, so it denies (fail closed)' : d.reason;
}

/** The sentence. */
export function agentHint(d: Denied): string {
  return `moat denied ${d.what} (${decidedBy(d)}: ${reasonOf(d)}); ${NO_WAY_ROUND}: ${nextStep(d)}.`;
}

/** "GET api.example.com", "a tunnel to api.example.com:443": method and host, never the path (it may hold a secret). */
export function deniedWhat(view: { method: string; host: string; port?: number }): string {
  return view.method === 'CONNECT' ? `a tunnel to ${view.host}:${view.port ?? 443}` : `${view.method} ${view.host}`;
}

/** An MCP denial: "the MCP tool call delete_file on mcp.example.com". */
export function deniedTools(tools: readonly string[], host: string): string {
  const unique = [...new Set(tools)];
  return `the MCP tool call${unique.length > 1 ? 's' : ''} ${unique.join(', ')} on ${host}`;
}

/** The 407 of a listener whose credential is missing or wrong: how to go through moat instead of round it. */
export const CREDENTIAL_HINT =
  `moat: the credential for this listener is missing or wrong; ${NO_WAY_ROUND}: run the agent under ` +
  '`moat chain run -- <command>` (or after `eval "$(moat chain env)"`), or ask the user.';

/**
 * A path servers read differently (400 ambiguous_request): what is ambiguous, the setting that would allow it (for the
 * user), and what the agent can do: send the path in its plain form.
 */
export function ambiguityHint(listener: string, reason: string, setting: string): string {
  return (
    `moat ${listener}: the request path is ambiguous: ${reason}${setting}; ${NO_WAY_ROUND}: send the path in its ` +
    'plain form (without that encoding), or ask the user.'
  );
}
