// What the supervisor hands every Moat process (ingress, built-in hops, links, egress):
// written as JSON to <state>/run/<id>.json and read by hops/main.ts at start.
import type { PolicySettings } from './policy/engine';
import type { EgressGrant } from './logic/credentials';
import type { NatsIdentity } from './events/nats-url';
import type { PathAllowance } from './logic/canonical-path';

export type MoatRole = 'ingress' | 'builtin' | 'link' | 'egress';

/** The process a Moat process forwards to: always an HTTP proxy on 127.0.0.1. */
export interface NextHop {
  port: number;
  /** Hop number and name, used in errors: "hop 2 (moat-policy) is unavailable". */
  hop: number;
  name: string;
  /**
   * The next process is a Moat process too (a built-in hop, the link in front of a third-party hop, egress): HTTPS
   * goes to it over one pooled TLS connection to its port, requests in absolute form (`https://host/path`) with
   * the chain token on each, instead of a CONNECT tunnel and a leaf per destination host (LinkServer, "link TLS").
   */
  moat?: boolean;
  /** A Moat process: the file holding its listener's credential, sent on every request and CONNECT to it. */
  tokenFile?: string;
  /**
   * A Moat process after a Moat process: the name of the abstract Unix socket it also takes link TLS on
   * (LinkSpec.socket). The link client connects there instead of to the port; WebSocket handshakes, blind tunnels and
   * plain HTTP still use the port.
   */
  socket?: string;
  /**
   * An isolated third-party hop: the file holding its entrance's credential, said first on every connection
   * (hop-entrance.ts).
   */
  entranceFile?: string;
}

/** egress.upstream_proxy as egress is told it (logic/upstream-proxy.ts): no credentials, only where to find them. */
export interface UpstreamProxySpec {
  host: string;
  port: number;
  /** Host globs reached directly. */
  bypass: string[];
  /** The name "user:password" is sealed under in egress's `secrets` (put there by `up`); absent: none. */
  credentialsEnv?: string;
}

export interface EgressSpec {
  allow: string[];
  resolve: Record<string, string>;
  extraCa: string[];
  timeoutMs: number;
  /**
   * egress.allow_private_addresses: a name allowed by a glob may resolve into private ranges
   * (hops/logic/address-guard.ts).
   */
  allowPrivateAddresses?: boolean;
  /**
   * Credentials egress puts into requests (hops/logic/credentials.ts). The keys are not here: egress reads them from
   * `secrets` (each under its grant's keyEnv).
   */
  grants?: EgressGrant[];
  /**
   * Where `up` sealed egress's secrets (grant keys under their keyEnv, the upstream proxy's credentials under its
   * credentialsEnv) and their key, both 0600 (hops/runtime/sealed-secrets.ts): opened at every start. Absent (an
   * in-process test): egress reads those names from its environment.
   */
  secrets?: { file: string; keyFile: string };
  /**
   * egress.upstream_proxy: the corporate proxy destinations outside its bypass are reached through. Its credentials
   * are not here: egress reads them from `secrets`.
   */
  upstreamProxy?: UpstreamProxySpec;
}

/**
 * Where and what this process records: the boundary in front of hop `hop`. On moat's own NATS, as its own user
 * (NatsIdentity).
 */
export interface EventsSpec extends NatsIdentity {
  natsUrl: string;
  queueSize: number;
  capture: 'metadata' | 'redacted' | 'full';
  maxBodyBytes: number;
  hop: number;
  hopName: string;
  boundary: number;
  /** Headers redacted besides hops/events/redact.ts's CREDENTIAL_HEADERS: those of generic grants. */
  redactHeaders?: string[];
  /**
   * The grants' placeholders when bodies are captured: key-shaped on purpose and sent by the agent, so DLP leaves them
   * in bodies.
   */
  placeholders?: string[];
}

/**
 * How a Moat process reaches the next one, decided once by the plan (supervisor/chain/onward.ts) and read by the
 * forwarder, blind tunnels, admission and the hung-hop watchdog.
 */
export type Onward =
  /** Egress: the destination itself, as `egress` says. */
  | { kind: 'internet' }
  /** A Moat process (a built-in hop, the link in front of a third-party hop, egress): link TLS, its credential. */
  | { kind: 'moat'; next: NextHop }
  /**
   * A third-party forward proxy that sends on into the Moat process after it (`beyond`, probed directly by the
   * hung-hop watchdog). `plain`: HTTPS goes to it as plain absolute-form HTTP, marked to be restored (tls: plain).
   * `trustCaFile`: the CA it signs with when it intercepts TLS itself (mitmproxy). `dialsDirectly`: an isolated hop
   * that connects to destinations itself (its namespace sends that into the next link): no x-moat-* for it.
   */
  | {
      kind: 'forward_hop';
      next: NextHop;
      beyond: NextHop;
      plain?: true;
      trustCaFile?: string;
      dialsDirectly?: true;
    }
  /**
   * A third-party hop that dials destinations itself and is last (dials_directly, isolation: none): this link is the
   * last Moat process its traffic passes, so it does what egress would where it can. It applies egress.allow
   * (`allow`), verifies the destination's certificate against the system roots and `extraCa` (the TLS it opens through
   * the hop's CONNECT tunnel ends at the destination), sends the hop no credential (such a hop passes
   * Proxy-Authorization of plain http requests on to the destination) and drops x-moat-* headers.
   */
  | { kind: 'last_hop'; next: NextHop; allow: string[]; extraCa: string[]; trustCaFile?: string }
  /**
   * A reverse proxy for one API (base_url): requests in its `scope` (host globs and path prefixes, empty paths: every
   * path) go to it as origin-form plain HTTP; the rest, and every blind tunnel, go round it to `skip`, the Moat process
   * after it.
   */
  | { kind: 'base_url_hop'; next: NextHop; scope: { hosts: string[]; paths: string[] }; skip: NextHop };

export interface LinkSpec {
  chain: string;
  role: MoatRole;
  hop: number;
  name: string;
  host: string;
  port: number;
  /**
   * Set when the process before this one is a Moat process too (Linux): the name of an abstract Unix socket on which
   * this process takes link TLS only, beside its port (hops/runtime/link-socket.ts). Between two processes of one
   * machine a Unix socket costs less per request than loopback TCP (docs/benchmarks.md, "Issue 22, session 26").
   */
  socket?: string;
  /** This listener's credential (ingress: the agent's token; every other: its own, known to the process before it). */
  tokenFile: string;
  /**
   * In front of a third-party hop: the credential of the process after the hop, the only one that may claim traces
   * here.
   */
  claimTokenFile?: string;
  /**
   * replay --skip-hop: the chain's skip key, in the process of a hop that may be skipped (hops/logic/replay-skip.ts);
   * absent for a policy hop, ingress and egress.
   */
  skipKeyFile?: string;
  /** The process of a hop that is never skipped: why (logged when an ask to skip it arrives). */
  notSkippable?: string;
  caCertFile: string;
  caKeyFile: string;
  leafKeyFile: string;
  /** How this process reaches the next one (egress: the destination). */
  onward: Onward;
  /**
   * Set when the process before this one is a third-party hop: the link in front of that hop, asked for the trace of
   * a request that arrives without x-moat-trace; and whether that link handed HTTPS to the hop as plain HTTP (tls:
   * plain), which this process sends on as HTTPS again.
   */
  afterHop?: { link: NextHop; restoreHttps?: true };
  /** ingress.body_timeout_s when it is not the default (20): the body deadline's base (hops/logic/body-deadline.ts). */
  bodyTimeoutS?: number;
  /**
   * ingress.allow_in_paths when not empty: what hops/logic/canonical-path.ts lets through, as written, instead of
   * refusing it.
   */
  allowInPaths?: PathAllowance[];
  /** moat-policy: its settings, the moat.yaml it re-reads when the file changes, where spent budgets are kept. */
  policy?: { settings: PolicySettings; configFile: string; usageFile: string; placeholders?: string[] };
  egress?: EgressSpec;
  /**
   * tls.intercept when it is not every host: CONNECTs to other hosts are tunnelled blind
   * (hops/runtime/blind-tunnel.ts).
   */
  intercept?: string[];
  /** Ingress: hosts whose leaves it mints once it listens, before any CONNECT asks (supervisor/chain/plan.ts). */
  leafHosts?: string[];
  /** Absent for ingress (hop 1's process records boundary 0) and when events are off. */
  events?: EventsSpec;
}
