// What the supervisor hands every Moat process (ingress, built-in hops, links, egress):
// written as JSON to <state>/run/<id>.json and read by hops/main.ts at start.
import type { PolicySettings } from './policy/engine';
import type { EgressGrant } from './logic/credentials';
import type { TelemetrySpec } from './telemetry/service';
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
   * An isolated third-party hop: the file holding its entrance's credential, said first on every connection
   * (hop-entrance.ts).
   */
  entranceFile?: string;
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
   * its environment.
   */
  grants?: EgressGrant[];
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

export interface LinkSpec {
  chain: string;
  role: MoatRole;
  hop: number;
  name: string;
  host: string;
  port: number;
  /** This listener's credential (ingress: the agent's token; every other: its own, known to the process before it). */
  tokenFile: string;
  /**
   * In front of a third-party hop: the credential of the process after the hop, the only one that may claim traces
   * here.
   */
  claimTokenFile?: string;
  caCertFile: string;
  caKeyFile: string;
  leafKeyFile: string;
  /** Absent only for egress, which talks to the destination itself. */
  next?: NextHop;
  /**
   * Set when the process before this one is a third-party hop: the link in front of that hop,
   * asked for the trace of a request that arrives without x-moat-trace.
   */
  previousLink?: NextHop;
  /** tls: plain: HTTPS requests go to the next (forward) hop as plain absolute-form HTTP, marked to be restored. */
  nextPlain?: boolean;
  /** The hop before this process got plain HTTP for HTTPS (tls: plain): send such requests on as HTTPS again. */
  restoreHttps?: boolean;
  /** base_url when the next process is a reverse proxy for one API (sent origin-form plain HTTP, only its scope). */
  nextKind?: 'forward' | 'base_url';
  /** The traffic the base_url hop serves: host globs and path prefixes (empty: every path). */
  scope?: { hosts: string[]; paths: string[] };
  /** Where requests outside the scope go instead: the process after the base_url hop. */
  skip?: NextHop;
  /**
   * In front of a third-party forward hop: the Moat process after it, which the hung-hop watchdog probes directly
   * (hops/runtime/hop-watchdog.ts). Absent when the hop dials destinations itself and is last (nothing of moat is after
   * it).
   */
  beyond?: NextHop;
  /** ingress.body_timeout_s when it is not the default (20): the body deadline's base (hops/logic/body-deadline.ts). */
  bodyTimeoutS?: number;
  /**
   * ingress.allow_in_paths when not empty: what hops/logic/canonical-path.ts lets through, as written, instead of
   * refusing it.
   */
  allowInPaths?: PathAllowance[];
  /** A CA the next hop signs with when it intercepts TLS itself (mitmproxy), trusted besides the Moat CA. */
  nextTrustCaFile?: string;
  /**
   * Set when the next hop dials destinations itself (dials_directly, e.g. agentreserve): this link is the last Moat
   * process its traffic passes, so it does what egress would where it can. It applies egress.allow, verifies the
   * destination's certificate against the system roots and egress.extra_ca (the TLS it opens through the hop's
   * CONNECT tunnel ends at the destination), sends the hop no chain token (such a hop passes Proxy-Authorization of
   * plain http requests on to the destination) and drops x-moat-* headers.
   */
  nextDialsDirectly?: { allow: string[]; extraCa: string[] };
  /**
   * The next hop connects to destinations itself (dials_directly), isolated or not: it gets no chain token (it would
   * pass Proxy-Authorization of plain http on to the destination, or keep it in its own records). Isolated, its
   * namespace's relay adds the token on the way into the next link.
   */
  nextWithoutToken?: boolean;
  /** moat-policy: its settings, the moat.yaml it re-reads when the file changes, where spent budgets are kept. */
  policy?: { settings: PolicySettings; configFile: string; usageFile: string; placeholders?: string[] };
  egress?: EgressSpec;
  /**
   * tls.intercept when it is not every host: CONNECTs to other hosts are tunnelled blind
   * (hops/runtime/blind-tunnel.ts).
   */
  intercept?: string[];
  /** Absent for ingress (hop 1's process records boundary 0) and when events are off. */
  events?: EventsSpec;
  /**
   * moat-telemetry only: where it reads the chain's events, serves /metrics and sends OTLP (hops/telemetry/service.ts).
   */
  telemetry?: TelemetrySpec;
}
