// The plan's types: every process of a chain as the plan describes it. Apart from plan.ts so that the config
// sections that wire themselves into a plan (config/grants.ts, telemetry.ts, ...) need not import the planner.
import type { ResolvedConfig } from '../config/types';
import type { LinkSpec, MoatRole } from '../../hops/spec';
import type { StateLayout } from './state';
import type { LedgerSpec } from '../ledger/writer';
import type { DashboardSpec } from '../dashboard/spec';
import type { MetricsSpec } from '../../hops/telemetry/service';

export type ProcessRole = MoatRole | 'third-party' | 'nats' | 'ledger' | 'dashboard' | 'metrics';

export interface PlannedProcess {
  /** Unique within the chain, used as the pm2 app name suffix and log file name. */
  id: string;
  role: ProcessRole;
  /** 0 ingress, 1..N the hops of proxies:, N+1 egress. */
  hop: number;
  name: string;
  port: number;
  /** Id of the process this one forwards to; "internet" for egress. */
  forwardsTo: string;
  /** Moat processes: the spec handed to hops/main.ts. */
  spec?: LinkSpec;
  /** The ledger writer's settings. */
  ledger?: LedgerSpec;
  /** The dashboard's settings. */
  dashboard?: DashboardSpec;
  /** With moat-telemetry: the settings of its metrics process (hops/telemetry/metrics-main.ts). */
  metrics?: MetricsSpec;
  /** Third-party processes (and nats-server): argv, env and files with placeholders substituted. */
  command?: string[];
  env?: Record<string, string>;
  files?: Record<string, string>;
  /** The CA this hop signs with when it intercepts TLS; the link in front trusts it. */
  trustCa?: string;
  cwd?: string;
  /** Third-party: it connects to destinations itself, so it gets no upstream and no chain token. */
  dialsDirectly?: boolean;
  /** Third-party: it enforces policy (`policy: true`), so replay --skip-hop and bisect never skip it. */
  policy?: true;
  /**
   * Third-party with `isolation: netns`: it runs in network namespaces of its own, whose TCP to ports 443 and 80
   * (and to its upstream's port) goes into the next link; `up` starts it through supervisor/transparent/hop-main.ts.
   */
  isolation?: 'netns';
  /**
   * Isolated: the file with the credential its entrance takes from the link in front (hops/runtime/hop-entrance.ts).
   */
  entranceFile?: string;
  /** Third-party: how the link in front speaks to it (forward proxy or base URL). */
  kind?: 'forward' | 'base_url';
  /** Third-party from a manifest: the manifest file and how to install the binary. */
  manifest?: string;
  install?: string;
}

export interface Plan {
  chain: string;
  configFile: string;
  stateDir: string;
  ingressPort: number;
  /** Where events go: moat's own nats-server, or events.nats_url. */
  natsUrl: string;
  /**
   * nats-server (unless events.nats_url is set), the ledger writer, the dashboard and moat-telemetry's metrics: started
   * first, stopped last.
   */
  services: PlannedProcess[];
  /** In chain order: ingress first, egress last. Start in reverse. */
  processes: PlannedProcess[];
  /** Things the user should know before starting, e.g. a hop that listens on every interface. */
  warnings: string[];
  /** With grants: variable -> placeholder, what the agent (and every third-party hop) holds instead of a key. */
  placeholders?: Record<string, string>;
  /** With moat-telemetry: where Prometheus scrapes it, http://127.0.0.1:PORT/metrics. */
  metricsUrl?: string;
  /** egress.upstream_proxy's host:port (never its credentials): egress reaches destinations through it. */
  upstreamProxy?: string;
  /**
   * The credential of every listener but ingress's, by the file `up` writes it to (0600): each process accepts only
   * the process before it. Never shown: displayPlan drops it and masks the values wherever they were filled in.
   */
  linkTokens?: Record<string, string>;
  /** events.ledger: central: `moat ledger serve` writes the ledger from the shared NATS; the chain runs no writer. */
  centralLedger?: true;
}

export interface PlanInputs {
  config: ResolvedConfig;
  configFile: string;
  layout: StateLayout;
  token: string;
  /** Random at every `up`: each listener's credential is derived from it and the process's id (linkToken). */
  linkSecret: string;
  allocatePort: () => number;
  /** The real keys of config.grants, in order: only so that no placeholder contains one. They never enter the plan. */
  grantKeys?: readonly string[];
}

/** What a config section's wiring (config/sections.ts) may use of the plan being built. */
export interface SectionWiringInputs {
  processes: PlannedProcess[];
  /** A section that needs a process of its own off the request path adds it here (telemetry's metrics). */
  services: PlannedProcess[];
  /** The chain token: placeholders are derived from it. */
  token: string;
  grantKeys?: readonly string[];
  natsUrl: string;
  allocatePort: () => number;
}

/** What a config section's wiring adds to the plan itself, beside what it puts into processes' specs. */
export type SectionPlanFields = Pick<Plan, 'placeholders' | 'metricsUrl' | 'upstreamProxy'>;
