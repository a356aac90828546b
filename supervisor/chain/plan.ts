// The plan: every process of a chain with its port, upstream, command and environment,
// computed from the config before anything starts. Pure: ports come from an allocator,
// paths from the state layout, so `plan` output is deterministic in tests.
import { dirname, join } from 'node:path';
import { createHmac } from 'node:crypto';
import type { ThirdPartyHop } from '../config/hop-resolution';
import type { MoatRole } from '../../hops/spec';
import type { StateLayout } from './state';
import { hideOtlpHeaders } from '../config/telemetry';
import { wireSections } from '../config/sections';
import { interceptList, interceptHostsValue } from '../config/tls';
import { intercepts } from '../../hops/logic/intercept';
import { redactNatsUrl } from '../../hops/events/nats-url';
import { assignNatsUsers, natsConfigFile } from './nats-auth';
import { wireOnward } from './onward';
import { BODY_TIMEOUT_DEFAULTS } from '../../hops/logic/body-deadline';
import { wireBuiltinHop } from './builtin-wiring';
import { SKIP_KEY_ID, wireSkipKey } from './skip-hop';
import { sinkSpec, type SinkSpec } from '../findings/sink-spec';

export const LINK_HOST = '127.0.0.1';
const DEFAULT_BODY_TIMEOUT_S = BODY_TIMEOUT_DEFAULTS.baseMs / 1000;

export type { Plan, PlanInputs, PlannedProcess, ProcessRole } from './plan-types';
import type { Plan, PlanInputs, PlannedProcess } from './plan-types';

/** A listener's credential: 32 bytes no other listener's credential, nor the agent's, tells anything about. */
export function linkToken(linkSecret: string, processId: string): string {
  return createHmac('sha256', linkSecret).update(`moat-link:${processId}`).digest('hex');
}

const LINK_SOCKET_NAME_LENGTH = 107;

/**
 * The abstract Unix socket a Moat process after a Moat process takes link TLS on (Linux): a name no process can know
 * before `up` draws the link secret, so none can take it first. 107 characters, all of sun_path after the leading NUL:
 * Node 20 pads a shorter abstract name with NULs to that length and Node 22 does not, so only a full-length name is
 * the same address to both (a process restarted on another Node still meets the one before it).
 */
export function linkSocketName(linkSecret: string, processId: string): string {
  const digest = createHmac('sha512', linkSecret).update(`moat-socket:${processId}`).digest('hex');
  return `moat-link-${digest.slice(0, LINK_SOCKET_NAME_LENGTH - 'moat-link-'.length)}`;
}

// Abstract sockets are Linux's; elsewhere every link stays on its port.
const ABSTRACT_SOCKETS = process.platform === 'linux';

export function buildPlan({
  config,
  configFile,
  layout,
  token,
  linkSecret,
  allocatePort,
  grantKeys,
}: PlanInputs): Plan {
  const hopCount = config.proxies.length;
  const linkTokens: Record<string, string> = {};
  // Ingress takes what the agent holds; every other listener its own credential, known only to the process before it.
  const credentialFile = (id: string): string => {
    if (id === '0-ingress') return layout.tokenFile;
    const file = layout.linkTokenFile(id);
    linkTokens[file] = linkToken(linkSecret, id);
    return file;
  };
  const intercept = interceptList(config);
  const bodyTimeoutS = config.ingress.body_timeout_s;
  const processes: PlannedProcess[] = [];
  const moat = (role: MoatRole, hop: number, name: string, id: string, port: number): PlannedProcess => ({
    id,
    role,
    hop,
    name,
    port,
    forwardsTo: '',
    spec: {
      chain: config.name,
      role,
      hop,
      name,
      host: LINK_HOST,
      port,
      tokenFile: credentialFile(id),
      caCertFile: layout.caCertFile,
      caKeyFile: layout.caKeyFile,
      leafKeyFile: layout.leafKeyFile,
      // Egress's; every other process gets its own from wireOnward once the chain is laid out.
      onward: { kind: 'internet' },
      ...(intercept ? { intercept } : {}),
      // Every Moat process applies it: a body trickles through all of them alike.
      ...(bodyTimeoutS !== DEFAULT_BODY_TIMEOUT_S ? { bodyTimeoutS } : {}),
    },
  });

  const services: PlannedProcess[] = [];
  const warnings: string[] = [];
  let natsUrl = config.events.nats_url;
  if (!natsUrl) {
    const port = allocatePort();
    natsUrl = `nats://${LINK_HOST}:${port}`;
    services.push({
      id: 'nats',
      role: 'nats',
      hop: -1,
      name: 'nats-server',
      port,
      forwardsTo: '',
      command: ['nats-server', '-c', natsConfigFile(layout.natsDir)],
    });
  }
  // A central ledger is written by `moat ledger serve` elsewhere: no writer here, so no second reader of the stream.
  const centralLedger = config.events.ledger === 'central';
  if (!centralLedger) {
    services.push({
      id: 'ledger',
      role: 'ledger',
      hop: -1,
      name: 'ledger-writer',
      port: 0,
      forwardsTo: '',
      ledger: {
        chain: config.name,
        natsUrl,
        dbFile: layout.ledgerFile,
        healthFile: join(layout.stateDir, 'ledger-health.json'),
        ...(config.events.replicas ? { replicas: config.events.replicas } : {}),
        // Checked at load (config/events.ts): every sink has a spec.
        ...(config.events.sinks?.length
          ? { sinks: config.events.sinks.map((s) => sinkSpec(s, dirname(configFile)) as SinkSpec) }
          : {}),
      },
    });
  }
  // The process in front of hop k records boundary k-1; egress records boundary N.
  const record = (p: PlannedProcess, boundary: number) => {
    p.spec!.events = {
      natsUrl: natsUrl!,
      queueSize: config.events.queue_size,
      capture: config.capture.bodies,
      maxBodyBytes: config.capture.max_body_bytes,
      hop: p.hop,
      hopName: p.name,
      boundary,
    };
  };

  const ingress = moat('ingress', 0, 'ingress', '0-ingress', config.ingress.port || allocatePort());
  const leafHosts = hostsToMint(config.egress.allow, intercept);
  if (leafHosts.length > 0) ingress.spec!.leafHosts = leafHosts;
  processes.push(ingress);
  config.proxies.forEach((entry, i) => {
    const hop = i + 1;
    if (typeof entry === 'string') {
      const p = moat('builtin', hop, entry, `${hop}-${entry}`, allocatePort());
      wireBuiltinHop(entry, p.spec!, { config, configFile, layout });
      record(p, hop - 1);
      processes.push(p);
    } else {
      // A third-party hop gets a Moat link in front of it: the link re-terminates TLS
      // from the previous hop, checks the token, and names this hop when it is down.
      const link = moat('link', hop, entry.name, `${hop}-link`, allocatePort());
      record(link, hop - 1);
      processes.push(link);
      processes.push(thirdParty(entry, hop, allocatePort(), layout));
      // Isolated, "every interface" is the namespace's loopback; moat's own listener for it binds 127.0.0.1.
      const hopPort = processes[processes.length - 1].port;
      if (entry.listens_on_all_interfaces && entry.isolation !== 'netns') {
        warnings.push(
          `hop ${hop} (${entry.name}) listens on every network interface (it has no setting for its ` +
            `address): other machines can reach it on port ${hopPort} unless a firewall stops them`,
        );
      }
      if (entry.isolation !== 'netns') {
        warnings.push(
          `hop ${hop} (${entry.name}) has isolation: none: any local process can send into its port ` +
            `${hopPort}, and through it into the rest of the chain (its credential for the next link is in its own ` +
            `settings)`,
        );
      }
    }
  });
  const egress = moat('egress', hopCount + 1, 'egress', `${hopCount + 1}-egress`, allocatePort());
  egress.spec!.egress = {
    allow: config.egress.allow,
    resolve: config.egress.resolve,
    extraCa: config.egress.extra_ca,
    timeoutMs: config.egress.timeout_ms,
    ...(config.egress.allow_private_addresses ? { allowPrivateAddresses: true } : {}),
  };
  record(egress, hopCount);
  processes.push(egress);
  // The dashboard, a service: its port is chosen after the chain's, so that adding it moved no other port.
  if (config.dashboard.enabled) {
    const port = config.dashboard.port || allocatePort();
    services.push({
      id: 'dashboard',
      role: 'dashboard',
      hop: -1,
      name: 'dashboard',
      port,
      forwardsTo: '',
      dashboard: {
        chain: config.name,
        moatHome: layout.moatHome,
        natsUrl,
        host: LINK_HOST,
        port,
        tokenFile: layout.dashboardTokenFile,
        ...(centralLedger ? { centralLedger: true as const } : {}),
      },
    });
  }

  // Wire each process to the one after it; a third-party hop learns its upstream through placeholders, an isolated one
  // takes the entrance line with the credential of its entrance.
  for (let i = 0; i < processes.length - 1; i++) {
    const current = processes[i];
    const next = processes[i + 1];
    current.forwardsTo = next.id;
    if (next.isolation === 'netns') next.entranceFile = credentialFile(next.id);
    if (!current.spec)
      substitutePlaceholders(current, next.port, linkTokens[next.spec!.tokenFile], layout, interceptHostsValue(config));
  }
  wireOnward(processes, config, (id) => (ABSTRACT_SOCKETS ? linkSocketName(linkSecret, id) : undefined));
  // replay --skip-hop: the key asks to skip a hop are signed with, given to the hops that may be skipped.
  wireSkipKey(processes, credentialFile(SKIP_KEY_ID));
  egress.forwardsTo = 'internet';
  // Every Moat process reads the path alike (hops/logic/canonical-path.ts): one that refused what ingress let through
  // would fail it.
  if (config.ingress.allow_in_paths.length)
    for (const p of processes) if (p.spec) p.spec.allowInPaths = [...config.ingress.allow_in_paths];
  const sectionFields = wireSections(config, { processes, services, token, grantKeys, natsUrl, allocatePort });

  const plan: Plan = {
    chain: config.name,
    configFile,
    stateDir: layout.stateDir,
    ingressPort: processes[0].port,
    natsUrl,
    services,
    processes,
    warnings,
    ...sectionFields,
    ...(centralLedger ? { centralLedger: true } : {}),
    linkTokens,
  };
  // On its own nats-server, every connection is a user of its own (listen address, store and users: nats.conf).
  assignNatsUsers(plan);
  return plan;
}

function thirdParty(entry: ThirdPartyHop, hop: number, port: number, layout: StateLayout): PlannedProcess {
  return {
    id: `${hop}-${safeName(entry.name)}`,
    role: 'third-party',
    hop,
    name: entry.name,
    port,
    forwardsTo: '',
    command: [...entry.command],
    env: { ...entry.env },
    files: { ...entry.files },
    trustCa: entry.trust_ca,
    cwd: layout.hopDir(hop, safeName(entry.name)),
    kind: entry.kind,
    ...(entry.dials_directly ? { dialsDirectly: true } : {}),
    ...(entry.policy ? { policy: true as const } : {}),
    ...(entry.isolation === 'netns' ? { isolation: 'netns' as const } : {}),
    ...(entry.manifest ? { manifest: entry.manifest, install: entry.install } : {}),
  };
}

/** upstreamToken: the credential of the next link's listener, good for nothing else. */
function substitutePlaceholders(
  p: PlannedProcess,
  upstreamPort: number,
  token: string,
  layout: StateLayout,
  interceptHosts: string,
): void {
  // A hop that dials destinations itself has no upstream: it gets no address of the next link and no token
  // (with one it could send requests through egress, which adds granted keys).
  const upstreamValues: Record<string, string> = p.dialsDirectly
    ? {}
    : {
        upstream: `http://moat:${token}@${LINK_HOST}:${upstreamPort}`,
        upstream_host: LINK_HOST,
        upstream_port: String(upstreamPort),
        upstream_auth: `moat:${token}`,
        upstream_base: `http://${LINK_HOST}:${upstreamPort}/_moat/${token}`,
      };
  const values: Record<string, string> = {
    port: String(p.port),
    ...upstreamValues,
    dir: p.cwd!,
    ca: layout.caCertFile,
    ca_bundle: layout.caBundleFile,
    intercept_hosts: interceptHosts,
  };
  const fill = (text: string) => text.replace(/\{([a-z_]+)\}/g, (whole, key: string) => values[key] ?? whole);
  p.command = p.command!.map(fill);
  p.env = Object.fromEntries(Object.entries(p.env!).map(([k, v]) => [k, fill(v)]));
  p.files = Object.fromEntries(Object.entries(p.files!).map(([k, v]) => [k, fill(v)]));
  if (p.trustCa) p.trustCa = fill(p.trustCa);
  // No way around the chain: whatever the proxy dials by itself goes to its next link.
  // And whatever runtime it is written in trusts the Moat leaves the next link presents.
  const upstream = values.upstream;
  const proxyVars: Record<string, string> = upstream
    ? {
        HTTP_PROXY: upstream,
        HTTPS_PROXY: upstream,
        http_proxy: upstream,
        https_proxy: upstream,
        NO_PROXY: '',
        no_proxy: '',
      }
    : {};
  const trust = {
    SSL_CERT_FILE: layout.caBundleFile,
    REQUESTS_CA_BUNDLE: layout.caBundleFile,
    CURL_CA_BUNDLE: layout.caBundleFile,
    NODE_EXTRA_CA_CERTS: layout.caCertFile,
  };
  p.env = { ...proxyVars, ...trust, ...p.env };
}

export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * The plan as shown and as written to plan.json: no token or link credential, no OTLP header values, no credentials of
 * the NATS URL.
 */
export function displayPlan(plan: Plan, token: string): Plan {
  const { linkTokens, ...shown } = plan;
  let text = JSON.stringify(shown);
  for (const secret of [token, ...Object.values(linkTokens ?? {})]) text = text.split(secret).join('***');
  const shownNats = redactNatsUrl(plan.natsUrl);
  if (shownNats !== plan.natsUrl)
    text = text.split(JSON.stringify(plan.natsUrl).slice(1, -1)).join(JSON.stringify(shownNats).slice(1, -1));
  return hideOtlpHeaders(JSON.parse(text));
}

/** The most leaves ingress mints before it is asked (each is a signature, 4-7 ms of its CPU). */
const MAX_LEAVES_AHEAD = 32;

/**
 * The hosts ingress mints leaves for as soon as it listens: those egress.allow names exactly (no glob, not an address)
 * and tls.intercept terminates, so the agent's first CONNECT to one does not wait for a signature (nor, for the first,
 * node-forge's load).
 */
export function hostsToMint(allow: readonly string[], intercept: readonly string[] | undefined): string[] {
  const exact = allow
    .map((h) => h.toLowerCase())
    .filter((h) => /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(h) && /[a-z]/.test(h) && h !== 'localhost')
    .filter((h) => intercepts(intercept, h));
  return [...new Set(exact)].slice(0, MAX_LEAVES_AHEAD);
}
