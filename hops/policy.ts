// moat-policy: first rule whose match fits host/path decides; nothing matching allows.
import type { PolicyRule } from '../schemas/generated/chain-config';
import { globMatch } from './glob';
import { pathOnly, type HopLogic, type RequestView } from './view';

export interface PolicyDecision {
  action: 'allow' | 'deny' | 'log';
  rule?: string;
  reason: string;
}

export function ruleId(rule: PolicyRule, index: number): string {
  return rule.id ?? `rules[${index}]`;
}

/** What the rules say about a request; `subject` is host/path, the string rules match. */
export function evaluatePolicy(rules: readonly PolicyRule[], view: Pick<RequestView, 'host' | 'path'>): PolicyDecision {
  const subject = `${view.host}${pathOnly(view.path)}`;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (globMatch(rule.match, subject)) {
      return { action: rule.action, rule: ruleId(rule, i), reason: rule.reason ?? `matched ${rule.match}` };
    }
  }
  return { action: 'allow', reason: 'no rule matched' };
}

export function policyHop(rules: readonly PolicyRule[]): HopLogic {
  return {
    onRequest(view) {
      const decision = evaluatePolicy(rules, view);
      const where = `${view.method} ${view.host}${pathOnly(view.path)}`;
      if (decision.action === 'deny') {
        return {
          action: 'respond',
          status: 403,
          body: { error: 'policy_denied', rule: decision.rule, reason: decision.reason },
          decision,
          log: `moat-policy deny rule=${decision.rule} trace=${view.trace} ${where} reason=${JSON.stringify(decision.reason)}`,
        };
      }
      if (decision.action === 'log') {
        return { action: 'forward', log: `moat-policy log rule=${decision.rule} trace=${view.trace} ${where}`, decision };
      }
      return { action: 'forward', decision };
    },
  };
}
