// One registry of error codes. Every error a user can see has a stable code here,
// and docs/errors.md lists each of them (test/errors-docs.test.ts keeps the two in sync).

export const ERROR_CODES = {
  MOAT_ERR_CONFIG_NOT_FOUND: 'the configuration file does not exist',
  MOAT_ERR_CONFIG_SYNTAX: 'the configuration file is not valid YAML',
  MOAT_ERR_CONFIG_INVALID: 'the configuration does not match schemas/chain-config.schema.json',
  MOAT_ERR_UNKNOWN_HOP: 'a name under proxies: is neither a built-in hop nor a long-form proxy',
  MOAT_ERR_GRANT_INVALID: 'a grant is not a built-in one, or claims a host or variable another grant has',
  MOAT_ERR_GRANT_KEY: "a grant's real key is not set (or not usable) in the environment of moat chain plan/up",
  MOAT_ERR_BINARY_NOT_FOUND: "a third-party hop's command is not installed",
  MOAT_ERR_NATS_NOT_FOUND: 'nats-server is not installed and events.nats_url is not set',
  MOAT_ERR_NATS: 'the NATS server could not be reached or set up',
  MOAT_ERR_ALREADY_UP: 'the chain is already running',
  MOAT_ERR_NOT_UP: 'the chain is not running',
  MOAT_ERR_PORT_IN_USE: 'ingress.port is taken by another program',
  MOAT_ERR_HOP_NOT_READY: 'a process did not start accepting connections in time',
  MOAT_ERR_PM2: 'pm2 failed to start or stop a process',
  MOAT_ERR_NO_LEDGER: 'the chain has no ledger yet',
  MOAT_ERR_LEDGER_TAMPERED: 'moat chain verify found a row that was modified, inserted or deleted',
  MOAT_ERR_USAGE: 'the command line is not understood',
  MOAT_ERR_CA: 'the Moat CA could not be created or read',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the user: printed as `moat: <message> [CODE]`, never as a stack trace. */
export class MoatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MoatError';
  }
}

/** Error bodies that links answer with when forwarding fails (JSON, status 502/504/403/407). */
export const LINK_ERRORS = {
  proxy_auth_required: 'the request did not carry the chain token',
  hop_unavailable: 'the next hop did not accept the connection',
  hop_failed: 'the next hop closed or broke the connection',
  hop_timeout: 'the next hop did not answer in time',
  upstream_unavailable: 'egress could not reach the destination',
  upstream_tls: "the destination's certificate did not verify",
  upstream_timeout: 'the destination did not answer in time',
  egress_denied: 'the destination host is not in egress.allow',
  policy_denied: 'a moat-policy rule denied the request',
  bad_request: 'the request is not a proxy request moat understands',
} as const;

export type LinkErrorCode = keyof typeof LINK_ERRORS;
