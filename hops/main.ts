// The runtime of every Moat process (ingress, built-in hops, links, egress): its listener, forwarder, recorder and
// hop logic, started from its spec. pm2 starts it through supervisor/chain/hop-process.ts.
import { readFileSync } from 'node:fs';
import { chainSalt } from './providers/cache-prefix';
import tls from 'node:tls';
import { systemRootsPem } from './tls/system-roots';
import { LeafCache } from './tls/leaf-cache';
import { Forwarder, type Route } from './runtime/forwarder';
import { LinkServer } from './runtime/link-server';
import { BoundaryRecorder } from './events/boundary-recorder';
import { EventPublisher } from './events/publisher';
import type { LinkSpec, NextHop } from './spec';
import { startBuiltinHop, type ProcessServices, type StartedHop } from './builtin-hops';
import { InflightRegistry } from './logic/inflight';
import { TraceClaimer } from './runtime/trace-claim';
import { applyCredentials, keysFromEnv, type CredentialRequest, type CredentialResult } from './logic/credentials';
import { processLineLog } from './runtime/line-log';
import { entranceLine } from './runtime/hop-entrance';
import { exitWithParent } from './runtime/parent-watch';
import { startWatchdog } from './runtime/hop-watchdog';
import { TunnelParking } from './runtime/tunnel-parking';
import { BODY_TIMEOUT_DEFAULTS } from './logic/body-deadline';
import { nextOf } from './logic/onward';
import { upstreamProxyAuthorization } from './logic/upstream-proxy';
import { UpstreamProxy } from './runtime/upstream-proxy';
import { readSealedSecrets } from './runtime/sealed-secrets';

function logicFor(spec: LinkSpec, log: (line: string) => void, services: ProcessServices): StartedHop {
  return spec.role === 'builtin' ? startBuiltinHop(spec, log, services) : { logic: {} };
}

/** A listener's credential, read from its file (0600). */
function readCredential(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/** The credential the next process's listener takes: its own file, never this process's. */
function nextCredential(next: NextHop): string {
  return next.tokenFile ? readCredential(next.tokenFile) : '';
}

/** upstreamAuthorization: egress.upstream_proxy's Proxy-Authorization (upstreamProxyAuthFor), if it has credentials. */
export function routeFor(spec: LinkSpec, moatCa: string, upstreamAuthorization?: string): Route {
  const { onward } = spec;
  switch (onward.kind) {
    case 'internet': {
      const extra = spec.egress!.extraCa.map((f) => readFileSync(f, 'utf8'));
      const trustedCa = [systemRootsPem(), ...extra];
      const proxy = spec.egress!.upstreamProxy;
      // One TLS context for every destination reached through the proxy, as for direct ones.
      const upstream = proxy
        ? new UpstreamProxy(proxy, upstreamAuthorization, tls.createSecureContext({ ca: trustedCa }))
        : undefined;
      return { kind: 'internet', egress: spec.egress!, trustedCa, ...(upstream ? { upstream } : {}) };
    }
    case 'base_url_hop':
      return {
        kind: 'base_url',
        next: onward.next,
        trustedCa: [moatCa],
        entrance: entranceOf(onward.next),
        beyond: onward.skip,
      };
    case 'last_hop': {
      // The hop tunnels to the destination itself: the TLS opened through it ends there, and the hop gets no token.
      const extra = onward.extraCa.map((f) => readFileSync(f, 'utf8'));
      return {
        kind: 'next',
        next: onward.next,
        proxyAuthorization: '',
        trustedCa: [systemRootsPem(), ...extra],
        nextCaFile: onward.trustCaFile,
        tlsToDestination: true,
        entrance: entranceOf(onward.next),
      };
    }
    case 'moat':
      return nextRoute(onward.next, [moatCa]);
    case 'forward_hop':
      // An intercepting proxy behind this link (mitmproxy) presents leaves of its own CA (read when first needed:
      // the hop writes it when it first starts, which may be after this link does).
      // A third-party hop gets no credential from its link: its own upstream setting holds the next link's.
      return {
        ...nextRoute(onward.next, [moatCa]),
        nextCaFile: onward.trustCaFile,
        plain: onward.plain === true,
        beyond: onward.beyond,
      };
  }
}

function nextRoute(next: NextHop, trustedCa: string[]): Extract<Route, { kind: 'next' }> {
  const credential = nextCredential(next);
  return {
    kind: 'next',
    next,
    proxyAuthorization: credential ? basicAuth(credential) : '',
    trustedCa,
    entrance: entranceOf(next),
  };
}

/** An isolated third-party hop's entrance line, read from its file; none for any other next process. */
function entranceOf(next: NextHop): Buffer | undefined {
  return next.entranceFile ? entranceLine(readCredential(next.entranceFile)) : undefined;
}

function basicAuth(credential: string): string {
  return `Basic ${Buffer.from(`moat:${credential}`).toString('base64')}`;
}

/** The chain's cache_prefix salt, from the CA key this process holds; none (no cache_prefix) if it cannot be read. */
function saltFor(spec: LinkSpec): Buffer | undefined {
  try {
    return chainSalt(readFileSync(spec.caKeyFile), spec.chain);
  } catch {
    return undefined;
  }
}

function recorderFor(
  spec: LinkSpec,
  log: (line: string) => void,
  spoolDir?: string,
): { recorder?: BoundaryRecorder; publisher?: EventPublisher } {
  const e = spec.events;
  if (!e) return {};
  const publisher = new EventPublisher({
    natsUrl: e.natsUrl,
    natsIdentity: e,
    queueSize: e.queueSize,
    chain: spec.chain,
    hop: e.hop,
    hopName: e.hopName,
    boundary: e.boundary,
    log,
    spoolDir,
  });
  const info = {
    chain: spec.chain,
    hop: e.hop,
    hopName: e.hopName,
    boundary: e.boundary,
    capture: e.capture,
    redactHeaders: e.redactHeaders,
    placeholders: e.placeholders,
    cacheSalt: saltFor(spec),
  };
  return { recorder: new BoundaryRecorder(info, e.maxBodyBytes, publisher), publisher };
}

/**
 * Egress with grants: the real keys come from its sealed secrets (secretsOf), or, in an in-process test, from the
 * environment, and are taken out of it so nothing egress might start inherits them.
 */
function credentialsFor(
  spec: LinkSpec,
  env: NodeJS.ProcessEnv,
): ((req: CredentialRequest) => CredentialResult) | undefined {
  const grants = spec.role === 'egress' ? (spec.egress?.grants ?? []) : [];
  if (grants.length === 0) return undefined;
  const keys = keysFromEnv(grants, env);
  for (const g of grants) delete env[g.keyEnv];
  return (req) => applyCredentials(grants, (g) => keys.get(g.keyEnv)!, req);
}

/**
 * Egress with egress.upstream_proxy.credentials_env: the proxy's "user:password" comes from its sealed secrets (or, in
 * an in-process test, the environment), as grant keys do.
 */
function upstreamProxyAuthFor(spec: LinkSpec, env: NodeJS.ProcessEnv): string | undefined {
  const proxy = spec.role === 'egress' ? spec.egress?.upstreamProxy : undefined;
  if (!proxy?.credentialsEnv) return undefined;
  const credentials = env[proxy.credentialsEnv];
  delete env[proxy.credentialsEnv];
  if (!credentials) throw new Error(`egress.upstream_proxy: ${proxy.credentialsEnv} is not in egress's secrets`);
  return upstreamProxyAuthorization(credentials);
}

/** Egress's secrets: opened from the files `up` sealed them in (at every start), else the environment. */
function secretsOf(spec: LinkSpec, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const where = spec.role === 'egress' ? spec.egress?.secrets : undefined;
  return where ? readSealedSecrets(where.file, where.keyFile) : env;
}

export interface RunningLink {
  server: LinkServer;
  port: number;
  /** What sends on to the next process (its watchdog holds it hung: Forwarder.setHung). */
  forwarder: Forwarder;
  publisher?: EventPublisher;
  close(): Promise<void>;
}

/**
 * spoolDir: where this process's events wait on disk until NATS stored them (hops/events/spool.ts); none: memory only.
 */
export async function startLink(
  spec: LinkSpec,
  log: (line: string) => void = (l) => console.log(l),
  env: NodeJS.ProcessEnv = process.env,
  spoolDir?: string,
  services: ProcessServices = {},
): Promise<RunningLink> {
  const token = readCredential(spec.tokenFile);
  const secrets = secretsOf(spec, env);
  const credentials = credentialsFor(spec, secrets);
  const upstreamAuthorization = upstreamProxyAuthFor(spec, secrets);
  const leaves = new LeafCache(spec);
  const { recorder, publisher } = recorderFor(spec, log, spoolDir);
  const inflight = spec.role === 'link' ? new InflightRegistry() : undefined;
  // This process proves itself to the link in front of the hop before it with its own credential.
  const claimer = spec.afterHop ? new TraceClaimer(spec.afterHop.link.port, basicAuth(token), log) : undefined;
  const claimToken = spec.claimTokenFile ? readCredential(spec.claimTokenFile) : undefined;
  const route = routeFor(spec, leaves.caCertPem, upstreamAuthorization);
  const forwarder = new Forwarder(route);
  // Round the hop: requests outside a base_url hop's scope, and replays that skip it (hops/logic/replay-skip.ts).
  const skip =
    spec.onward.kind === 'base_url_hop'
      ? spec.onward.skip
      : spec.onward.kind === 'forward_hop' && spec.skipKeyFile
        ? spec.onward.beyond
        : undefined;
  const skipKey = spec.skipKeyFile ? readCredential(spec.skipKeyFile) : undefined;
  const skipForwarder = skip ? new Forwarder(nextRoute(skip, [leaves.caCertPem])) : undefined;
  const hop = logicFor(spec, log, services);
  const bodyTimeout = spec.bodyTimeoutS ? { ...BODY_TIMEOUT_DEFAULTS, baseMs: spec.bodyTimeoutS * 1000 } : undefined;
  const authorizations = new Map<string, string>();
  const authorizationTo = (next: NextHop): string => {
    const file = next.tokenFile ?? '';
    if (!authorizations.has(file)) authorizations.set(file, file ? basicAuth(readCredential(file)) : '');
    return authorizations.get(file)!;
  };
  const entrances = new Map<string, Buffer | undefined>();
  const entranceTo = (next: NextHop): Buffer | undefined => {
    if (!entrances.has(next.entranceFile ?? '')) entrances.set(next.entranceFile ?? '', entranceOf(next));
    return entrances.get(next.entranceFile ?? '');
  };
  const server = new LinkServer({
    spec,
    token,
    claimToken,
    authorizationTo,
    entranceTo,
    leaves,
    forwarder,
    skipForwarder,
    skipKey,
    logic: hop.logic,
    recorder,
    inflight,
    claimer,
    credentials,
    log,
    bodyTimeout,
    ...(route.kind === 'internet' && route.upstream ? { upstream: route.upstream } : {}),
    ...(spec.afterHop ? { parking: new TunnelParking() } : {}),
    ...(spec.onward.kind === 'forward_hop' && claimToken ? { beyondAuthorization: basicAuth(claimToken) } : {}),
  });
  await server.listen().catch(async (err) => {
    hop.close?.();
    throw err;
  });
  // Once the port is open, before any request can arrive: it first queues what a killed predecessor spooled.
  try {
    publisher?.start();
  } catch (err) {
    await server.close();
    hop.close?.();
    throw err;
  }
  // After the port is open (the sign `up` waits for): the next process's pool, then the leaves of the hosts the chain
  // allows by name, each now rather than on the agent's first request.
  let stopMinting = (): void => undefined;
  const warming = setImmediate(() => {
    forwarder.warm();
    skipForwarder?.warm();
    if (spec.leafHosts) stopMinting = leaves.mintAhead(spec.leafHosts);
  });
  // Under pm2 (PM2_HOME is the chain's): the next process is watched, and a hung one failed and restarted.
  // Probes carry no credential: any answer, a 407 too, says a process is alive, and a probe sent every 2 s to a port a
  // restarting process has left free would hand its credential to whoever bound it meanwhile. To an isolated hop they
  // say its entrance line (else moat's entrance, not the hop, would answer), and only to a listener of this user.
  const next = nextOf(spec.onward);
  const watchdog =
    env.PM2_HOME && next
      ? startWatchdog({
          spec,
          forwarder,
          skipForwarder,
          nextAuthorization: '',
          nextEntrance: entranceTo(next),
          beyondAuthorization: '',
          pm2Home: env.PM2_HOME,
          log,
        })
      : undefined;
  return {
    server,
    port: server.port,
    forwarder,
    publisher,
    async close() {
      clearImmediate(warming);
      stopMinting();
      watchdog?.close();
      claimer?.close();
      hop.close?.();
      await server.close();
      await publisher?.close();
    },
  };
}

/** Runs one Moat process from its spec file, as pm2 starts it (supervisor/chain/hop-process.ts is the entry). */
export function runMoatProcess(specFile: string, services: ProcessServices): void {
  // pm2's daemon gone: no supervisor, so no serving (egress would go on injecting keys).
  exitWithParent();
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as LinkSpec;
  const label = `${spec.name} (hop ${spec.hop})`;
  const lines = processLineLog();
  const log = (line: string) => lines.log(line);
  // <state>/run/<id>.spool: next to the spec, so a restarted process finds what the one before it left.
  startLink(spec, log, undefined, specFile.replace(/\.json$/, '') + '.spool', services).then(
    (link) => {
      log(
        `${label} listening on ` +
          `${spec.host}:${spec.port}${spec.socket ? ` and @${spec.socket}` : ''}` +
          `${spec.events ? `, recording boundary ${spec.events.boundary}` : ''}`,
      );
      const stop = () => link.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: Error) => {
      lines.flush(); // what it said before failing comes first in its log
      console.error(`${label} failed to start: ${err.message}`);
      process.exit(1);
    },
  );
}
