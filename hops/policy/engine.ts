// moat-policy's evaluator: rules (first match wins), DLP on request bodies, MCP tool calls, and
// the limits of allow rules (rate_limit, time_restriction, spending_limit). Pure apart from the
// state it keeps (rate windows, spent budgets); the clock and the secret scanner are injected.
import type { PolicyLimit, PolicyRule } from '../../schemas/generated/chain-config';
import { globMatch } from '../logic/glob';
import { pathOnly, type RequestView } from '../logic/view';
import { costOf, type PriceTable } from '../providers/prices';
import type { ProviderFacts } from '../providers/facts';
import { requestFacts } from '../providers/adapters';
import { isBatch, toolCalls, type ToolCall } from './mcp';
import { RateWindows } from './rate-window';
import { UsageBook } from './usage-book';
import { zonedTime } from './zoned-time';
import { hostCoverage } from './host-coverage';
import type { DenialCode } from '../logic/agent-hint';
import { compileWhen, evaluateWhen, type CelFacts } from './cel';
import { celFacts, withCall } from './cel-facts';
import { carriesTraceOnly } from '../logic/trace';

export interface PolicySettings {
  mode: 'enforce' | 'report';
  rules: PolicyRule[];
  dlp: { enabled: boolean; detectors?: string[] };
  inspectMaxBytes: number;
  oversize: 'deny' | 'allow';
  prices: PriceTable;
}

/** A request body as the runtime read it: decoded text (all of it, or the first inspectMaxBytes). */
export interface InspectedBody {
  text: string;
  complete: boolean;
  /** Set when the body could not be decoded (an unknown or broken content-encoding). */
  error?: string;
}

/** What a scanner found, and whether it could read the whole text within its bounds (hops/dlp/decoded-views.ts). */
export interface ScanResult {
  findings: readonly { label: string }[];
  complete: boolean;
  reason?: string;
}

/**
 * The DLP detectors over a text and its decoded views; `form`: the text is a form body or a query. A bare list means
 * complete.
 */
export type SecretScanner = (
  text: string,
  labels?: readonly string[],
  options?: { form?: boolean },
) => ScanResult | readonly { label: string }[];

const scanResult = (r: ReturnType<SecretScanner>): ScanResult =>
  Array.isArray(r) ? { findings: r, complete: true } : (r as ScanResult);

/** DLP as PolicyEngine.dlpOf gives it for one request. */
export interface DlpOf {
  scan: SecretScanner;
  detectors?: readonly string[];
  inspectMaxBytes: number;
  oversize: 'deny' | 'allow';
}

/** The request header the policy's DLP does not read: the chain's own token for ingress (no DLP shape). */
const UNSCANNED_HEADERS = new Set(['proxy-authorization']);

/** A form body is percent-decoded as a whole, `+` as a space. */
const FORM_TYPE = /^application\/x-www-form-urlencoded/i;

/** moat-policy's denials: every denial code but egress's own (hops/logic/agent-hint.ts lists them). */
export type DenialKind = Exclude<DenialCode, 'egress_denied' | 'egress_address_refused'>;

export interface Verdict {
  action: 'allow' | 'log' | 'deny';
  /** The rule that decided (rules[N] or its id), `dlp` for a DLP finding, absent when nothing matched. */
  rule?: string;
  reason: string;
  /** Denials: */
  kind?: DenialKind;
  status?: number;
  retryAfterS?: number;
  /** dlp_blocked: the detector's label (never the value). */
  label?: string;
  /** The rule's own mode, when it has one (else policy.mode applies). */
  mode?: 'enforce' | 'report';
  /** MCP: the denied tool calls, answered as JSON-RPC errors. */
  toolCalls?: ToolCall[];
  batch?: boolean;
  /** What the request counts against once it goes ahead: rate windows and the budgets its usage will fill. */
  rateKeys?: string[];
  /** The rule by id (rules may be reloaded before the response comes), and the model the request named. */
  budget?: { rule: string; model?: string };
}

/** Each denial's HTTP status (the kinds are link error codes: supervisor/errors.ts, docs/errors.md). */
export const DENIAL_STATUS: Record<DenialKind, number> = {
  policy_denied: 403,
  rate_limited: 429,
  outside_allowed_hours: 403,
  budget_exhausted: 429,
  dlp_blocked: 403,
  body_too_large_to_inspect: 413,
  body_not_inspectable: 415,
  policy_error: 403,
  blind_tunnel_undecidable: 403,
};

/** What decide() reads of a request; the trace when the runtime knows it (its trace headers then go unread by DLP). */
export type DecidedView = Pick<RequestView, 'method' | 'host' | 'path' | 'headers'> & { trace?: string };

export function ruleId(rule: PolicyRule, index: number): string {
  return rule.id ?? `rules[${index}]`;
}

export function hasBody(view: Pick<RequestView, 'headers'>): boolean {
  const length = view.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return view.headers['transfer-encoding'] !== undefined;
}

export class PolicyEngine {
  private readonly rates = new RateWindows();

  constructor(
    private settings: PolicySettings,
    private readonly deps: { now: () => number; scan: SecretScanner; usage: UsageBook },
  ) {}

  get current(): PolicySettings {
    return this.settings;
  }

  /** New rules take effect for the next request; rate windows and spent budgets carry over (same rule ids). */
  update(settings: PolicySettings): void {
    this.settings = settings;
  }

  /**
   * DLP as it applies to what a request sends after its head (a WebSocket's client frames: hops/policy/ws-dlp.ts):
   * the scanner and detectors request bodies are read with, or undefined when DLP is off for the request's URL.
   */
  dlpOf(view: Pick<RequestView, 'method' | 'host' | 'path' | 'headers'>): DlpOf | undefined {
    const { dlp, oversize, inspectMaxBytes } = this.settings;
    if (!dlp.enabled) return undefined;
    const i = this.urlRule(subjectOf(view), view);
    if (i !== undefined && this.settings.rules[i].dlp === false) return undefined;
    return { scan: this.deps.scan, detectors: dlp.detectors, inspectMaxBytes, oversize };
  }

  /** Whether decide() needs the request body: to scan it, to read MCP tool calls, or a model a budget is kept by. */
  wantsBody(view: Pick<RequestView, 'method' | 'host' | 'path' | 'headers'>): boolean {
    if (!hasBody(view)) return false;
    const subject = subjectOf(view);
    const { rules, dlp } = this.settings;
    if (rules.some((r) => (r.tool !== undefined || r.when !== undefined) && applies(r, subject, view))) return true;
    const i = this.urlRule(subject, view);
    const rule = i === undefined ? undefined : rules[i];
    if (rule?.policies?.some((p) => p.type === 'spending_limit')) return true;
    return dlp.enabled && rule?.dlp !== false && rule?.action !== 'deny';
  }

  decide(view: DecidedView, body?: InspectedBody): Verdict {
    const subject = subjectOf(view);
    const { rules } = this.settings;
    const calls = body && !body.error ? toolCalls(body.text) : [];
    let index = -1;
    let denied: ToolCall[] = [];
    // Built once, and only when a rule with `when:` got past its other matchers.
    let facts: CelFacts | undefined;
    const factsOf = () => (facts ??= celFacts(view, body));
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (!applies(r, subject, view)) continue;
      if (r.tool !== undefined) {
        denied = calls.filter((c) => globMatch(r.tool!, c.tool));
        if (r.when !== undefined) {
          const kept: ToolCall[] = [];
          for (const call of denied) {
            const holds = this.when(r, i, () => withCall(factsOf(), call));
            if (typeof holds !== 'boolean') return holds;
            if (holds) kept.push(call);
          }
          denied = kept;
        }
        if (denied.length === 0) continue;
      } else if (r.when !== undefined) {
        const holds = this.when(r, i, factsOf);
        if (typeof holds !== 'boolean') return holds;
        if (!holds) continue;
      }
      index = i;
      break;
    }
    const rule = index >= 0 ? rules[index] : undefined;
    const id = rule && ruleId(rule, index);
    const base = { rule: id, mode: rule?.mode };

    if (rule?.action === 'deny') {
      const reason =
        (rule.reason ??
          (rule.tool
            ? `tool ${denied.map((c) => c.tool).join(', ')} matched ${rule.tool} on ${rule.match}`
            : `matched ${rule.match}`)) + whenSuffix(rule);
      return {
        ...this.denial('policy_denied', reason),
        ...base,
        // Without their arguments: a verdict carries what the answer names, nothing the agent sent.
        ...(rule.tool ? { toolCalls: denied.map(({ id, tool }) => ({ id, tool })), batch: isBatch(body!.text) } : {}),
      };
    }

    const inspection = this.inspect(view, subject, body);
    if (inspection) return inspection;

    const budget = rule ? this.budgetFor(index, view, body) : undefined;
    if (rule?.action === 'allow' && rule.policies?.length) {
      const rateKeys: string[] = [];
      for (let p = 0; p < rule.policies.length; p++) {
        const failed = this.checkLimit(rule.policies[p], `${id}#${p}`, view.host, budget?.model, rateKeys);
        if (failed) return { ...failed, ...base };
      }
      return { action: 'allow', ...base, reason: reasonOf(rule), rateKeys, budget };
    }
    if (!rule) return { action: 'allow', reason: 'no rule matched' };
    return { action: rule.action, ...base, reason: reasonOf(rule), budget };
  }

  /**
   * A blind tunnel (tls.intercept): only the host is known. A rule that matches every request to the host
   * decides as it would for each of them (rate_limit and time_restriction apply; a spending_limit cannot be
   * kept without usage, so it denies). A rule that would match only some paths, or only some MCP tool calls,
   * cannot be decided: if it could deny (deny, or limits) the tunnel is denied (fail closed), otherwise the
   * rules after it are read. DLP does not apply: nothing of the body is seen.
   */
  decideTunnel(view: Pick<RequestView, 'host'>): Verdict {
    const { rules } = this.settings;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      const coverage = hostCoverage(rule.match, view.host);
      if (coverage === 'none') continue;
      const id = ruleId(rule, i);
      const base = { rule: id, mode: rule.mode };
      // A rule for some methods only decides by what the tunnel hides, as one for some paths does.
      if (coverage === 'some' || rule.tool !== undefined || rule.methods !== undefined || rule.when !== undefined) {
        if (rule.action !== 'deny' && !rule.policies?.length) continue;
        const by =
          rule.tool !== undefined
            ? `MCP tool calls (${rule.tool})`
            : coverage === 'some'
              ? `path (${rule.match})`
              : rule.methods !== undefined
                ? `method (${rule.methods.join(', ')})`
                : `a when expression (${rule.when})`;
        const reason =
          `rule ${id} decides ${view.host} by ${by}, which a blind tunnel does not show; denied (fail closed): ` +
          `add ${view.host} to tls.intercept to decide per request`;
        return { ...this.denial('blind_tunnel_undecidable', reason), ...base };
      }
      if (rule.action === 'deny')
        return { ...this.denial('policy_denied', rule.reason ?? `matched ${rule.match}`), ...base };
      const rateKeys: string[] = [];
      for (let p = 0; p < (rule.policies ?? []).length; p++) {
        const limit = rule.policies![p];
        if (limit.type === 'spending_limit') {
          const reason =
            `rule ${id} keeps a spending_limit on ${view.host}, and a blind tunnel shows no usage to count; ` +
            `denied (fail closed): add ${view.host} to tls.intercept`;
          return { ...this.denial('blind_tunnel_undecidable', reason), ...base };
        }
        const failed = this.checkLimit(limit, `${id}#${p}`, view.host, undefined, rateKeys);
        if (failed) return { ...failed, ...base };
      }
      return { action: rule.action, ...base, reason: rule.reason ?? `matched ${rule.match}`, rateKeys };
    }
    return { action: 'allow', reason: 'no rule matched' };
  }

  /** The request goes ahead: it counts in its rate windows. */
  admit(verdict: Verdict): void {
    const now = this.deps.now();
    for (const key of verdict.rateKeys ?? []) this.rates.admit(key, now);
  }

  /**
   * A provider answered with usage: it fills the day's budgets of the rule that allowed the request.
   * Returns whether anything was added (the runtime then saves the book).
   */
  recordUsage(view: Pick<RequestView, 'host'>, verdict: Verdict, facts: ProviderFacts | undefined): boolean {
    const index = verdict.budget ? this.settings.rules.findIndex((r, i) => ruleId(r, i) === verdict.budget!.rule) : -1;
    const rule = index >= 0 ? this.settings.rules[index] : undefined;
    if (!rule || !facts || facts.normalization_error) return false;
    const tokens = (facts.input_tokens ?? 0) + (facts.output_tokens ?? 0);
    const model = verdict.budget!.model ?? facts.model;
    const amount = costOf(this.settings.prices, model, facts.input_tokens, facts.output_tokens) ?? 0;
    let added = false;
    (rule.policies ?? []).forEach((limit, p) => {
      if (limit.type !== 'spending_limit') return;
      this.deps.usage.add(this.bucket(limit, `${verdict.budget!.rule}#${p}`, view.host, model), tokens, amount);
      added = true;
    });
    return added;
  }

  /** The first rule that decides by URL alone (MCP rules and `when:` rules need more, so they are not it). */
  private urlRule(subject: string, view: Pick<RequestView, 'method' | 'headers'>): number | undefined {
    const i = this.settings.rules.findIndex(
      (r) => r.tool === undefined && r.when === undefined && applies(r, subject, view),
    );
    return i < 0 ? undefined : i;
  }

  /**
   * A rule's `when:` over the facts: true or false, or, when it cannot be evaluated (facts over the bounds, a runtime
   * error, the deadline passed), a denial naming the rule and the expression (fail closed).
   */
  private when(rule: PolicyRule, index: number, facts: () => CelFacts): boolean | Verdict {
    const id = ruleId(rule, index);
    try {
      return evaluateWhen(compileWhen(rule.when!), facts());
    } catch (err) {
      const reason =
        `rule ${id}: its when expression could not be evaluated (${(err as Error).message}); denied (fail closed)` +
        whenSuffix(rule);
      return { ...this.denial('policy_error', reason), rule: id, mode: rule.mode };
    }
  }

  /**
   * DLP: the path, the query, every request header (but the chain's own) and the body, each read as the
   * server will (decoded views). A part that cannot be read within the bounds is refused as a body that
   * cannot be decoded is: body_not_inspectable unless policy.oversize is allow. The headers that hold the request's
   * trace and nothing else are not read: no detector finds a secret in them (hops/logic/trace.ts, carriesTraceOnly),
   * and they are new on every request, so reading them was most of what DLP cost a request without a body.
   */
  private inspect(
    view: Pick<DecidedView, 'method' | 'path' | 'headers' | 'trace'>,
    subject: string,
    body: InspectedBody | undefined,
  ): Verdict | undefined {
    const { dlp, oversize, inspectMaxBytes } = this.settings;
    if (!dlp.enabled) return undefined;
    const urlRule = this.urlRule(subject, view);
    if (urlRule !== undefined && this.settings.rules[urlRule].dlp === false) return undefined;
    const q = view.path.indexOf('?');
    const parts: { where: string; text: string; form?: boolean }[] = [
      { where: 'path', text: q < 0 ? view.path : view.path.slice(0, q) },
    ];
    if (q >= 0) parts.push({ where: 'query', text: view.path.slice(q + 1), form: true });
    for (const [name, value] of Object.entries(view.headers)) {
      const lower = name.toLowerCase();
      if (value === undefined || UNSCANNED_HEADERS.has(lower)) continue;
      if (view.trace !== undefined && carriesTraceOnly(lower, value, view.trace)) continue;
      parts.push({ where: `header ${lower}`, text: Array.isArray(value) ? value.join(', ') : value });
      parts.push({ where: 'header name', text: name });
    }
    const unreadable = (where: string, why: string) =>
      oversize === 'deny'
        ? { ...this.denial('body_not_inspectable', `the ${where} cannot be inspected: ${why}`), rule: 'dlp' }
        : undefined;
    for (const part of parts) {
      const read = scanResult(this.deps.scan(part.text, dlp.detectors, { form: part.form }));
      if (read.findings.length > 0) return this.dlpBlocked(part.where, read.findings);
      if (!read.complete) {
        const verdict = unreadable(part.where, read.reason ?? 'encoded beyond what DLP reads');
        if (verdict) return verdict;
      }
    }
    if (!body) return undefined;
    if (body.error) return unreadable('body', body.error);
    const type = view.headers['content-type'];
    const read = scanResult(this.deps.scan(body.text, dlp.detectors, { form: FORM_TYPE.test(String(type ?? '')) }));
    if (read.findings.length > 0) return this.dlpBlocked('body', read.findings);
    if (!read.complete) {
      const verdict = unreadable('body', read.reason ?? 'encoded beyond what DLP reads');
      if (verdict) return verdict;
    }
    if (!body.complete && oversize === 'deny') {
      return {
        ...this.denial(
          'body_too_large_to_inspect',
          `the body is longer than policy.inspect_max_bytes (${inspectMaxBytes}); set policy.oversize: allow ` +
            `to let such bodies through uninspected`,
        ),
        rule: 'dlp',
      };
    }
    return undefined;
  }

  private dlpBlocked(where: string, found: readonly { label: string }[]): Verdict {
    const labels = [...new Set(found.map((f) => f.label))];
    return {
      ...this.denial('dlp_blocked', `request ${where} contains ${labels.join(', ')}`),
      rule: 'dlp',
      label: labels[0],
    };
  }

  private budgetFor(
    index: number,
    view: Pick<RequestView, 'host' | 'path'>,
    body: InspectedBody | undefined,
  ): Verdict['budget'] {
    const rule = this.settings.rules[index];
    if (!rule.policies?.some((p) => p.type === 'spending_limit')) return undefined;
    const model =
      body && !body.error ? requestFacts(view.host, view.path, body.text, !body.complete)?.model : undefined;
    return { rule: ruleId(rule, index), model };
  }

  private bucket(limit: PolicyLimit, budget: string, host: string, model: string | undefined): string {
    const date = zonedTime(this.deps.now(), limit.time_zone).date;
    return UsageBook.bucket(budget, date, host, limit.per === 'model' ? (model ?? '(unknown model)') : undefined);
  }

  private checkLimit(
    limit: PolicyLimit,
    key: string,
    host: string,
    model: string | undefined,
    rateKeys: string[],
  ): Verdict | undefined {
    const now = this.deps.now();
    if (limit.type === 'rate_limit') {
      const max = limit.max_requests_per_minute!;
      const windowKey = `${key}|${host}`;
      const wait = this.rates.retryAfter(windowKey, max, now);
      if (wait > 0) {
        return {
          ...this.denial('rate_limited', `rate limit: ${max} requests per minute to ${host}; retry in ${wait} s`),
          retryAfterS: wait,
        };
      }
      rateKeys.push(windowKey);
      return undefined;
    }
    if (limit.type === 'time_restriction') {
      const t = zonedTime(now, limit.time_zone);
      const zone = limit.time_zone ?? 'local time';
      if (limit.allowed_days?.length && !limit.allowed_days.includes(t.weekday)) {
        return this.denial(
          'outside_allowed_hours',
          `time restriction: not allowed on ${t.weekday} (${zone}); allowed ${limit.allowed_days.join(', ')}`,
        );
      }
      const start = limit.allowed_hours_start;
      const end = limit.allowed_hours_end;
      if (start !== undefined && end !== undefined) {
        const inside = start < end ? t.hour >= start && t.hour < end : t.hour >= start || t.hour < end;
        if (!inside)
          return this.denial(
            'outside_allowed_hours',
            `time restriction: allowed from ${start}:00 to ${end}:00 ${zone}, now ${t.hour}:xx`,
          );
      }
      return undefined;
    }
    const t = zonedTime(now, limit.time_zone);
    const spent = this.deps.usage.get(this.bucket(limit, key, host, model));
    const over =
      limit.max_tokens !== undefined && spent.tokens >= limit.max_tokens
        ? `${spent.tokens} of ${limit.max_tokens} tokens`
        : limit.max_amount !== undefined && spent.amount >= limit.max_amount
          ? `${spent.amount.toFixed(4)} of ${limit.max_amount}${limit.currency ? ' ' + limit.currency : ''}`
          : undefined;
    if (over) {
      const scope = limit.per === 'model' ? `${host} ${model ?? '(unknown model)'}` : host;
      return {
        ...this.denial('budget_exhausted', `spending limit: ${over} spent today on ${scope}`),
        retryAfterS: t.secondsToMidnight,
      };
    }
    return undefined;
  }

  private denial(kind: DenialKind, reason: string): Verdict {
    return { action: 'deny', kind, status: DENIAL_STATUS[kind], reason };
  }
}

// Headers some servers and frameworks read as the request's method instead of the request line's.
const METHOD_OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * The methods a server may read for the request: its own, and any a method-override header names (a POST with
 * `X-HTTP-Method-Override: DELETE` is a DELETE to servers that honour it). Upper case.
 */
export function requestMethods(view: Pick<RequestView, 'method' | 'headers'>): string[] {
  const out = new Set([view.method.toUpperCase()]);
  for (const name of METHOD_OVERRIDES) {
    const v = view.headers[name];
    // Repeated, or a list: each one (a server may read any of them).
    for (const value of Array.isArray(v) ? v : v === undefined ? [] : [v])
      for (const m of value.split(',')) if (m.trim()) out.add(m.trim().toUpperCase());
  }
  return [...out];
}

/**
 * A rule's match fits the request's host/path, and its methods (when it names some) the request's, read fail-closed:
 * a deny rule applies when ANY method a server may read is named, another rule only when ALL of them are.
 */
function applies(rule: PolicyRule, subject: string, view: Pick<RequestView, 'method' | 'headers'>): boolean {
  if (!globMatch(rule.match, subject)) return false;
  if (rule.methods === undefined) return true;
  const named = (m: string) => rule.methods!.includes(m);
  const methods = requestMethods(view);
  return rule.action === 'deny' ? methods.some(named) : methods.every(named);
}

/** A rule's reason, with the expression that decided when it has one (events, tap and report mode show it). */
function reasonOf(rule: PolicyRule): string {
  return (rule.reason ?? `matched ${rule.match}`) + whenSuffix(rule);
}

function whenSuffix(rule: PolicyRule): string {
  return rule.when === undefined ? '' : ` [when: ${rule.when}]`;
}

function subjectOf(view: Pick<RequestView, 'host' | 'path'>): string {
  return `${view.host}${pathOnly(view.path)}`;
}
