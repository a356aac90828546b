// Every Moat process but egress watches the process it forwards to: a hop that stops answering (SIGSTOP, a deadlock, a
// third-party proxy that accepts and never forwards) would otherwise hold every request sent to it for as long as the
// client waits, with no error naming it and no restart. A probe every 2 s, answered by the next Moat process itself
// (hops/runtime/health-probe.ts), tells a hung hop from a slow provider; hops/logic/hop-health.ts decides, this file
// acts: it fails what is in flight to the hung process with 504 hop_timeout naming it, answers new requests the same at
// once, and SIGKILLs it so that pm2 starts it again (hops/runtime/restart-hop.ts); when it answers again, traffic
// resumes.
import http from 'node:http';
import {
  HEALTH_DEFAULTS,
  HopHealth,
  type HealthChange,
  type HealthSettings,
  type ProbeTarget,
} from '../logic/hop-health';
import { probe, type ProbeForm } from './health-probe';
import { killListener } from './restart-hop';
import type { Failure } from '../logic/failure';
import { EntranceHttpAgent, type Forwarder } from './forwarder';
import type { LinkSpec, NextHop } from '../spec';
import { nextOf } from '../logic/onward';

export interface WatchdogOptions {
  spec: LinkSpec;
  /** Sends to the next process (spec.onward). */
  forwarder: Forwarder;
  /** In front of a base_url hop: sends what is outside its scope straight to the process after it. */
  skipForwarder?: Forwarder;
  /** Proxy-Authorization for the next process, and for the Moat process after a third-party hop. */
  nextAuthorization: string;
  /** The next process is an isolated third-party hop: its entrance line, said first on every probe connection to it. */
  nextEntrance?: Buffer;
  beyondAuthorization: string;
  /** The chain's PM2_HOME: a hung process is looked for among its apps only. */
  pm2Home: string;
  log: (line: string) => void;
  settings?: HealthSettings;
  /** Kills the process listening on a port, returns its pid (tests replace it). */
  kill?: (port: number) => number | undefined;
}

export interface Watchdog {
  close(): void;
}

/**
 * What the next process is probed with: a Moat process directly; a third-party forward hop with a probe it passes
 * on to the Moat process after it. A base_url hop gets it in origin form (passed on or answered by the hop), and so
 * does a last hop that dials destinations itself: nothing of moat is after it, and an absolute-form probe would make
 * it look up moat-health.invalid in DNS.
 */
function nextForm(spec: LinkSpec): ProbeForm {
  const { onward } = spec;
  return onward.kind === 'moat' || onward.kind === 'base_url_hop' || onward.kind === 'last_hop' ? 'direct' : 'through';
}

/** The Moat process after a third-party hop, probed directly: a hung one is not blamed on the hop in front of it. */
export function beyondOf(spec: LinkSpec): NextHop | undefined {
  const { onward } = spec;
  return onward.kind === 'base_url_hop' ? onward.skip : onward.kind === 'forward_hop' ? onward.beyond : undefined;
}

export function hungFailure(h: NextHop, s: HealthSettings): Failure {
  return {
    status: 504,
    error: 'hop_timeout',
    message:
      `hop ${h.hop} (${h.name}) stopped answering: no answer to ${s.failures} health probes in a row ` +
      `(${s.timeoutMs / 1000} s each); moat is restarting it`,
    hop: h.hop,
    hop_name: h.name,
  };
}

export function startWatchdog(o: WatchdogOptions): Watchdog | undefined {
  const { spec } = o;
  const next = nextOf(spec.onward);
  if (!next) return undefined; // egress: its destination is no hop of the chain
  const s = o.settings ?? HEALTH_DEFAULTS;
  const beyond = beyondOf(spec);
  const health = new HopHealth(s, beyond !== undefined);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const nextAgent = o.nextEntrance ? new EntranceHttpAgent(o.nextEntrance, { keepAlive: true, maxSockets: 4 }) : agent;
  const kill = o.kill ?? ((port: number) => killListener(port, o.pm2Home));
  const hopOf = (t: ProbeTarget) => (t === 'next' ? next : beyond!);
  let closed = false;

  const apply = (change: HealthChange) => {
    if (change.recovered) {
      const h = hopOf(change.recovered);
      o.forwarder.setHung(undefined);
      o.skipForwarder?.setHung(undefined);
      o.log(`hop ${h.hop} (${h.name}) answers again: forwarding to it`);
    }
    if (change.hung) {
      const h = hopOf(change.hung);
      const failure = hungFailure(h, s);
      let failed = o.forwarder.setHung(failure);
      // What goes round a base_url hop reaches the process after it: held only when that one is hung.
      if (change.hung === 'beyond') failed += o.skipForwarder?.setHung(failure) ?? 0;
      o.log(
        `hop ${h.hop} (${h.name}) stopped answering (${s.failures} health probes without an answer): ` +
          `${failed} request(s) in flight failed with hop_timeout, new ones fail at once until it answers`,
      );
    }
    if (change.kill) {
      const h = hopOf(change.kill);
      const pid = kill(h.port);
      o.log(
        pid === undefined
          ? `hop ${h.hop} (${h.name}): no process of this chain listens on port ${h.port}; not restarted`
          : `hop ${h.hop} (${h.name}): killed pid ${pid} (SIGKILL), pm2 restarts it`,
      );
    }
  };

  const send = (target: ProbeTarget, port: number, form: ProbeForm, authorization: string) => {
    void probe(port, form, authorization, s.timeoutMs, target === 'next' ? nextAgent : agent).then((result) => {
      if (!closed) apply(health.record(target, result, Date.now()));
    });
  };
  // A third-party hop logs every request it passes on: through it, probes go only while requests are in flight to it,
  // or WebSockets are open through it (or it is suspect), so an idle chain adds nothing to its log. A Moat process is
  // probed always (no log, no event).
  const throughHop = !next.moat;
  const tick = () => {
    if (!throughHop || o.forwarder.inFlight > 0 || o.forwarder.openWebSockets > 0 || health.suspect('next'))
      send('next', next.port, nextForm(spec), o.nextAuthorization);
    if (beyond) send('beyond', beyond.port, 'direct', o.beyondAuthorization);
  };
  const timer = setInterval(tick, s.intervalMs);
  timer.unref();
  return {
    close() {
      closed = true;
      clearInterval(timer);
      agent.destroy();
      nextAgent.destroy();
    },
  };
}
