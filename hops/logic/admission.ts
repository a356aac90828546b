// Admission: what a Moat process does with a request or a blind tunnel once it has read where it goes. The link
// server (hops/runtime/link-server.ts) and blind tunnels (hops/runtime/blind-tunnel.ts) both take these two steps,
// so a rule, a scope or egress.allow reads the same for a request and for a CONNECT:
//   1. which trace it belongs to (traceStep; the runtime asks the link before a third-party hop when it must),
//   2. what happens to it (admit): answered here, or forwarded to the next process or round a base_url hop.
// Pure: no sockets, the decision of the hop is handed in.
import { TRACE_ID, traceFor } from './trace';
import { egressRefusal } from './egress-allow';
import { agentHint, deniedWhat } from './agent-hint';
import { inScope } from './scope';
import type { DecisionRecord, RequestDecision, RequestView } from './view';
import type { LinkSpec } from '../spec';

export type Correlation = NonNullable<RequestView['correlation']>;

/** A request's trace, known here; `set` holds the headers ingress adds (traceparent, x-moat-trace). */
export interface KnownTrace {
  trace: string;
  correlation: Correlation;
  set?: Record<string, string>;
}

/**
 * The trace of what arrives: ingress gives every request one, later processes read x-moat-trace. Without it, after a
 * third-party hop that drops headers, the runtime must ask the link in front of that hop ('claim'). An x-moat-trace
 * that is not a trace id counts as none: a third-party hop could write anything there, and the trace goes into every
 * event unread by DLP.
 */
export function traceStep(
  role: LinkSpec['role'],
  headers: Readonly<Record<string, string | string[] | undefined>>,
  canClaim: boolean,
): KnownTrace | 'claim' {
  if (role === 'ingress') {
    const t = traceFor(headers);
    return { trace: t.trace, correlation: 'exact', set: t.set };
  }
  const given = headers['x-moat-trace'];
  if (typeof given === 'string' && TRACE_ID.test(given)) return { trace: given, correlation: 'exact' };
  return canClaim ? 'claim' : claimedTrace(undefined);
}

/** What the link in front of the previous hop said: its trace, or a new one when it could not tell. */
export function claimedTrace(trace: string | undefined): KnownTrace {
  return trace ? { trace, correlation: 'inferred' } : { trace: traceFor({}).trace, correlation: 'unmatched' };
}

/** The x-moat-* headers this process sends on: ingress's new ones, or a trace restored after a hop dropped it. */
export function traceHeadersToSend(known: KnownTrace, lastMoat: boolean): Record<string, string> {
  if (known.set) return known.set;
  return known.correlation !== 'exact' && !lastMoat ? { 'x-moat-trace': known.trace } : {};
}

/**
 * In front of a base_url hop (a reverse proxy for one API): requests outside its scope, and every blind tunnel (it
 * takes no CONNECT), go round it to the process after it. Undefined when this request goes through the hop.
 */
export function goesAround(spec: Pick<LinkSpec, 'hop' | 'name' | 'onward'>, view: RequestView) {
  const { onward } = spec;
  if (onward.kind !== 'base_url_hop') return undefined;
  if (view.method === 'CONNECT') {
    const { next } = onward;
    return skipped(`a blind tunnel goes round hop ${next.hop} (${next.name}), a reverse proxy that takes no CONNECT`);
  }
  if (!inScope(onward.scope, view.host, view.path))
    return skipped(`outside the scope of hop ${spec.hop} (${spec.name})`);
  return undefined;
}

function skipped(reason: string): RequestDecision & { action: 'forward' } {
  return { action: 'forward', decision: { action: 'skipped', reason } };
}

/** What happens to a request or tunnel: answered here, or sent on (round the next hop when `around`). */
export type Admission =
  | {
      action: 'respond';
      status: number;
      body: Record<string, unknown> | unknown[];
      headers: Record<string, string>;
      decision?: DecisionRecord;
      log?: string;
    }
  | { action: 'forward'; around: boolean; decision?: DecisionRecord; log?: string };

/**
 * The hop's decision, then egress.allow at the last Moat process on the way out. `around` is the decision of
 * goesAround when it gave one (the hop's logic then had no say).
 */
export function admit(
  spec: Pick<LinkSpec, 'role' | 'hop' | 'name' | 'egress' | 'onward'>,
  view: RequestView,
  decision: RequestDecision,
  around: boolean,
): Admission {
  const { log } = decision;
  if (decision.action === 'respond')
    return { ...decision, headers: decision.headers ?? {}, log } as Admission & { action: 'respond' };
  const refused = egressRefusal(spec, view.host);
  if (refused)
    return {
      action: 'respond',
      status: 403,
      // The message is the sentence for the agent (hops/logic/agent-hint.ts), egress.allow's reason inside it.
      body: {
        error: refused.error,
        message: agentHint({ code: refused.error, what: deniedWhat(view), reason: refused.message }),
      },
      headers: { 'x-moat-error': refused.error },
      decision: decision.decision,
      log,
    };
  return { action: 'forward', around, decision: decision.decision, log };
}
