// One registry of error codes. Every error a user can see has a stable code here,
// and docs/errors.md lists each of them (test/unit/supervisor/errors-docs.test.ts keeps the two in sync).

export const ERROR_CODES = {
  MOAT_ERR_CONFIG_NOT_FOUND: 'the configuration file does not exist',
  MOAT_ERR_CONFIG_EXISTS: 'moat chain init would overwrite an existing file',
  MOAT_ERR_CONFIG_SYNTAX: 'the configuration file is not valid YAML',
  MOAT_ERR_CONFIG_INVALID: 'the configuration does not match schemas/chain-config.schema.json',
  MOAT_ERR_POLICY_EXPRESSION:
    "a policy rule's when: expression does not compile (CEL syntax or type error, or refused)",
  MOAT_ERR_UNKNOWN_HOP:
    'an entry under proxies: names no built-in hop or manifest, or stands where it cannot (names must be ' +
    'unique; a hop that dials directly must be last)',
  MOAT_ERR_MANIFEST_INVALID:
    'a manifest in contrib-proxies/ is not valid YAML or does not match schemas/hop-manifest.schema.json',
  MOAT_ERR_GRANT_INVALID: 'a grant is not a built-in one, or claims a host or variable another grant has',
  MOAT_ERR_TELEMETRY_WITHOUT_HOP: 'telemetry: is set but proxies: has no moat-telemetry, the hop that serves it',
  MOAT_ERR_INTERCEPT_CONFLICT:
    'tls.intercept leaves a host blind that a grant, a base_url hop or a TLS-intercepting hop needs to see',
  MOAT_ERR_GRANT_KEY:
    "a grant's real key is neither in the environment of moat chain plan/up nor in the grant store (or not usable)",
  MOAT_ERR_GRANT_STORE:
    'the grant store (MOAT_HOME/grants.json) or its key is damaged, tampered with, missing or not private; it is ' +
    'refused whole',
  MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS:
    'the variable egress.upstream_proxy.credentials_env names is not set (or not user:password) in the environment ' +
    'of moat chain up',
  MOAT_ERR_BINARY_NOT_FOUND: "a third-party hop's command is not installed",
  MOAT_ERR_NATS_NOT_FOUND: 'nats-server is not installed and events.nats_url is not set',
  MOAT_ERR_NATS: 'the NATS server could not be reached or set up',
  MOAT_ERR_ALREADY_UP: 'the chain is already running',
  MOAT_ERR_NOT_UP: 'the chain is not running',
  MOAT_ERR_PORT_IN_USE: 'ingress.port, telemetry.metrics_port or dashboard.port is taken by another program',
  MOAT_ERR_HOP_NOT_READY: 'a process did not start accepting connections in time',
  MOAT_ERR_PM2: 'pm2 failed to start or stop a process',
  MOAT_ERR_NO_LEDGER: 'the chain has no ledger yet',
  MOAT_ERR_LEDGER_CENTRAL:
    'the chain keeps its ledger centrally (events.ledger: central): read it where moat ledger serve writes it',
  MOAT_ERR_LEDGER_NEEDS_NATS_URL:
    'events.ledger: central is set without events.nats_url, the shared NATS a central ledger reads',
  MOAT_ERR_CHAIN_NAME_TAKEN: 'the shared NATS already has a chain of this name from another machine or state directory',
  MOAT_ERR_STREAM_CLASH:
    "the shared NATS has a stream of the chain's stream name for other subjects (names differing only in - and _)",
  MOAT_ERR_STREAM_REPLICAS:
    "the NATS cluster cannot place the chain's stream on events.replicas servers (too few JetStream servers up)",
  MOAT_ERR_LEDGER_DIR_BUSY: 'another moat ledger serve is running on the same directory',
  MOAT_ERR_LEDGER_DIR_LOCK: 'moat ledger serve cannot lock its directory (permissions, or a file system without locks)',
  MOAT_ERR_LEDGER_TAMPERED:
    'moat chain verify found a row that was modified, inserted or deleted, a cut tail, a bad head or column, ' +
    'in the ledger or a bundle',
  MOAT_ERR_EXPORT_EXISTS: 'moat chain export: the file exists and --force was not given',
  MOAT_ERR_EXPORT_WRITE: 'moat chain export: the bundle could not be written',
  MOAT_ERR_FILE_UNREADABLE: 'a file named on the command line does not exist or cannot be read',
  MOAT_ERR_FILE_UNWRITABLE: 'moat chain findings --sarif FILE: the file could not be written',
  MOAT_ERR_BUNDLE_INVALID: 'the file is not a ledger bundle exactly as moat chain export wrote it',
  MOAT_ERR_KEY_INVALID: 'the --key file is not an Ed25519 public key',
  MOAT_ERR_KEY_MISMATCH: "the bundle's key is not the --key given",
  MOAT_ERR_IMPORT_SYNTAX: 'moat chain policy import: the agentreserve file is not valid YAML',
  MOAT_ERR_IMPORT_INVALID:
    'moat chain policy import: the agentreserve file has a key or value agentreserve does not define',
  MOAT_ERR_TRACE_NOT_FOUND: 'moat chain replay: the ledger has no such trace, or none recorded in front of that hop',
  MOAT_ERR_REPLAY_NO_BODY: "moat chain replay: the request's body was not recorded, or only in part",
  MOAT_ERR_REPLAY_WEBSOCKET: 'moat chain replay: the trace is a WebSocket connection, which replay cannot send again',
  MOAT_ERR_REPLAY_FAILED: 'moat chain replay: the replayed request could not be sent or answered',
  MOAT_ERR_HOP_NOT_SKIPPABLE:
    'moat chain replay --skip-hop: the hop is a policy hop, or a last hop that dials destinations itself',
  MOAT_ERR_LEARN_NOTHING: 'moat chain policy learn: the ledger has no requests in the time asked for',
  MOAT_ERR_NAMESPACES:
    'moat chain run --transparent, or a hop with isolation: netns: this system cannot give it a network ' +
    'namespace (not Linux, unshare or ip missing, user namespaces refused)',
  MOAT_ERR_USAGE: 'the command line is not understood',
  MOAT_ERR_CA: 'the Moat CA could not be created or read',
  MOAT_ERR_STATE_DIR: "a state directory is not the user's own, or cannot be made private (0700/0600)",
  MOAT_ERR_DAEMON_DIED: "the chain's pm2 daemon died: its Moat processes exited and nothing supervises the chain",
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

// The error bodies links answer with live beside the failure mapping (hops/logic/link-errors.ts); the registry names
// them too.
export { LINK_ERRORS, type LinkErrorCode } from '../hops/logic/link-errors';
