// moat-policy as hop logic: turns the engine's verdicts into what the runtime does (forward, or
// answer 403 / 413 / 429 / a JSON-RPC error), applies enforce / report, and denies when the
// evaluator itself fails (fail closed). Pure: the runtime hands it views and bodies.
import type { BodyPrefix, DecisionRecord, HopLogic, RequestDecision, RequestView, ResponseSeen } from '../logic/view';
import { recordableTarget } from '../events/recordable';
import { asText, bodyText } from '../providers/decode';
import { responseFacts, adapterFor } from '../providers/adapters';
import { PolicyEngine, type InspectedBody, type Verdict } from './engine';
import { toolCallDenial } from './mcp';
import { agentHint, deniedTools, deniedWhat } from '../logic/agent-hint';
import { WsClientDlp } from './ws-dlp';
import { isResponsesSocket } from '../providers/responses-socket';

// A provider's response copy to read usage from (as the recorder keeps for provider facts).
const RESPONSE_COPY_BYTES = 1 << 20;

export interface PolicyHopOptions {
  /** Called after usage filled a budget, so the runtime can save the book. */
  onUsage?(): void;
}

export function policyHop(engine: PolicyEngine, options: PolicyHopOptions = {}): HopLogic {
  // What each request was allowed under, until its response brings usage.
  const verdicts = new WeakMap<RequestView, Verdict>();
  return {
    bodyLimit(view) {
      try {
        return engine.wantsBody(view) ? engine.current.inspectMaxBytes : 0;
      } catch {
        return 0; // onRequest meets the same error and denies
      }
    },

    onRequest(view, body) {
      return decided(view, () => engine.decide(view, body && inspected(view, body, engine.current.inspectMaxBytes)));
    },

    onTunnel(view) {
      return decided(view, () => engine.decideTunnel(view));
    },

    responseCopy(view) {
      return verdicts.has(view) && (adapterFor(view.host, view.path) || isResponsesSocket(view.host, view.path))
        ? RESPONSE_COPY_BYTES
        : 0;
    },

    onResponse(view, response) {
      const verdict = verdicts.get(view);
      if (!verdict) return;
      // A provider socket reports each response it finishes: the verdict stays for the connection's life.
      if (!response.facts) verdicts.delete(view);
      if (engine.recordUsage(view, verdict, usageOf(view, response))) options.onUsage?.();
    },

    webSocketGuard(view) {
      const dlp = engine.dlpOf(view);
      if (!dlp) return undefined;
      const frames = new WsClientDlp(dlp);
      const enforce = engine.current.mode === 'enforce';
      return {
        onFrame: (f) => frames.onFrame(f),
        inspectMaxBytes: dlp.inspectMaxBytes,
        oversize: dlp.oversize,
        enforce,
        describe(finding, v) {
          const what = enforce ? 'close 1008' : 'would close (report mode)';
          return {
            decision: { action: enforce ? 'deny' : 'would_deny', rule: 'dlp', reason: finding.reason },
            log:
              `moat-policy ${what} rule=dlp trace=${v.trace} ${recordableTarget(v)} code=${finding.code} ` +
              `reason=${JSON.stringify(finding.reason)}`,
          };
        },
      };
    },
  };

  /** A verdict into what the runtime does: enforce or report, and a failing evaluator denies. */
  function decided(view: RequestView, decide: () => Verdict): RequestDecision {
    const where =
      view.method === 'CONNECT' ? `CONNECT ${view.host}:${view.port} (blind tunnel)` : recordableTarget(view);
    let verdict: Verdict;
    try {
      verdict = decide();
    } catch (err) {
      const reason = `policy evaluator error: ${(err as Error).message}`;
      const message = agentHint({ code: 'policy_error', what: deniedWhat(view), rule: 'policy', reason });
      return {
        action: 'respond',
        status: 403,
        body: { error: 'policy_error', reason, message },
        headers: { 'x-moat-error': 'policy_error' },
        decision: { action: 'deny', rule: 'policy', reason },
        log: `moat-policy deny (fail closed) trace=${view.trace} ${where} reason=${JSON.stringify(reason)}`,
      };
    }
    const mode = verdict.mode ?? engine.current.mode;
    if (verdict.action === 'deny' && mode === 'enforce') return denial(verdict, view, where);
    engine.admit(verdict);
    if (verdict.budget) verdicts.set(view, verdict);
    if (verdict.action === 'deny') {
      const decision: DecisionRecord = { action: 'would_deny', rule: verdict.rule, reason: verdict.reason };
      return {
        action: 'forward',
        decision,
        log:
          `moat-policy would deny (report mode) rule=${verdict.rule} trace=${view.trace} ${where} ` +
          `reason=${JSON.stringify(verdict.reason)}`,
      };
    }
    const decision: DecisionRecord = { action: verdict.action, rule: verdict.rule, reason: verdict.reason };
    if (verdict.action === 'log')
      return { action: 'forward', decision, log: `moat-policy log rule=${verdict.rule} trace=${view.trace} ${where}` };
    return { action: 'forward', decision };
  }
}

/** The body as text for the evaluator: inflated when compressed, never more than the limit. */
function inspected(view: RequestView, body: BodyPrefix, limit: number): InspectedBody {
  const encoding = view.headers['content-encoding'];
  if (!body.complete) {
    // The first bytes of a compressed body cannot be inflated on their own.
    return encoding === undefined ? { text: asText(body.bytes), complete: false } : { text: '', complete: false };
  }
  const decoded = bodyText(body.bytes, encoding === undefined ? undefined : String(encoding), limit);
  return 'text' in decoded
    ? { text: decoded.text, complete: true }
    : { text: '', complete: true, error: decoded.error };
}

function usageOf(view: RequestView, response: ResponseSeen) {
  if (response.facts) return response.facts;
  if (response.status >= 400 || response.error || response.body.truncated) return undefined;
  const encoding = response.headers['content-encoding'];
  const decoded = bodyText(response.body.bytes(), encoding === undefined ? undefined : String(encoding));
  if (!('text' in decoded)) return undefined;
  const type = response.headers['content-type'];
  return responseFacts(view.host, view.path, decoded.text, type === undefined ? undefined : String(type), false);
}

function denial(verdict: Verdict, view: RequestView, where: string): RequestDecision {
  const decision: DecisionRecord = { action: 'deny', rule: verdict.rule, reason: verdict.reason };
  const log =
    `moat-policy deny rule=${verdict.rule} trace=${view.trace} ` + `${where} reason=${JSON.stringify(verdict.reason)}`;
  const kind = verdict.kind ?? 'policy_denied';
  // x-moat-error names the denial, as on every error a Moat process answers (an MCP denial's status is 200).
  const headers: Record<string, string> = { 'x-moat-error': kind };
  if (verdict.retryAfterS) headers['retry-after'] = String(verdict.retryAfterS);
  const denied = { code: kind, rule: verdict.rule, reason: verdict.reason, retryAfterS: verdict.retryAfterS };
  if (verdict.toolCalls?.length) {
    // MCP clients read a JSON-RPC error as a failed tool call; an HTTP error status would be a transport failure.
    // The error's message is the sentence for the agent.
    const tools = deniedTools(
      verdict.toolCalls.map((c) => c.tool),
      view.host,
    );
    const body = toolCallDenial(verdict.toolCalls, verdict.batch === true, agentHint({ ...denied, what: tools }), {
      rule: verdict.rule,
      reason: verdict.reason,
    });
    return { action: 'respond', status: 200, body: body as Record<string, unknown>, headers, decision, log };
  }
  const message = agentHint({ ...denied, what: deniedWhat(view) });
  const body: Record<string, unknown> = { error: kind, rule: verdict.rule, reason: verdict.reason, message };
  if (verdict.label) body.label = verdict.label;
  if (verdict.retryAfterS) body.retry_after_s = verdict.retryAfterS;
  return { action: 'respond', status: verdict.status ?? 403, body, headers, decision, log };
}
