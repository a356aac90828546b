// The error a link answers with (JSON `error`, and `x-moat-error`), each with what it means. docs/errors.md lists them
// (test/unit/supervisor/errors-docs.test.ts keeps the two in step); supervisor/errors.ts re-exports them.

/** Error bodies that links answer with when forwarding fails or a policy denies (JSON, status 4xx/5xx). */
export const LINK_ERRORS = {
  proxy_auth_required:
    'the request did not carry the credential of the listener it reached (the chain token at ingress)',
  hop_unavailable: 'the next hop did not accept the connection',
  hop_failed: 'the next hop closed or broke the connection',
  hop_error:
    'a third-party hop answered with an error of its own (its status kept, its text in hop_answer) while the Moat ' +
    'process after it answers',
  hop_timeout: 'the next hop did not answer in time, or stopped answering health probes (hung)',
  websocket_unsupported:
    'a third-party hop did not pass a WebSocket handshake on as one (it answered it itself, or dropped its upgrade)',
  body_timeout: 'the request body did not arrive within the body timeout',
  upstream_unavailable: 'egress could not reach the destination',
  upstream_tls: "the destination's certificate did not verify",
  upstream_timeout: 'the destination did not answer in time',
  upstream_proxy_auth: 'the corporate proxy egress goes through (egress.upstream_proxy) refused its credentials (407)',
  upstream_proxy_unavailable: 'egress could not reach the corporate proxy it goes through (egress.upstream_proxy)',
  upstream_proxy_refused:
    'the corporate proxy egress goes through (egress.upstream_proxy) refused the destination (its own answer, not 407)',
  egress_denied: 'the destination host is not in egress.allow',
  egress_address_refused:
    'the destination resolved to an address egress does not connect to (this machine, link-local, a cloud ' +
    'metadata service, a private network) and egress.allow does not name the host exactly',
  policy_denied: 'a moat-policy rule denied the request',
  rate_limited: 'a rate_limit of the matching rule is used up for this host',
  outside_allowed_hours: 'a time_restriction of the matching rule does not allow this hour or day',
  budget_exhausted: 'a spending_limit of the matching rule is spent for today',
  dlp_blocked: 'the request body contains a secret (DLP)',
  body_too_large_to_inspect: 'moat-policy could not inspect a body longer than policy.inspect_max_bytes',
  body_not_inspectable: 'moat-policy could not decode the body to inspect it',
  policy_error: 'the policy evaluator failed, so the request was denied (fail closed)',
  blind_tunnel_undecidable:
    'a blind tunnel (tls.intercept) met a rule that needs a path, an MCP tool call or usage to decide, so it ' +
    'was denied (fail closed)',
  bad_request: 'the request is not a proxy request moat understands',
  ambiguous_request:
    'the request path holds an encoding that servers read differently (%2F, a backslash, double encoding, ' +
    '...), so no rule could read it as the server will',
} as const;

export type LinkErrorCode = keyof typeof LINK_ERRORS;
