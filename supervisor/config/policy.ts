// The policy: section of moat.yaml as moat-policy runs it, and the checks the schema cannot
// express (which fields go with which limit type, time zones, unique rule ids, priced budgets).
import type { PolicyLimit } from '../../schemas/generated/chain-config';
import type { PolicySettings } from '../../hops/policy/engine';
import { isTimeZone } from '../../hops/policy/zoned-time';
import type { JsonPath } from './schema-check';
import type { ResolvedConfig } from './types';
import { MoatError } from '../errors';
import { CelCompileError, compileWhen } from '../../hops/policy/cel';

export function policySettings(config: Pick<ResolvedConfig, 'policy' | 'prices'>): PolicySettings {
  const p = config.policy;
  return {
    mode: p.mode ?? 'enforce',
    rules: p.rules,
    dlp: { enabled: p.dlp?.enabled ?? true, detectors: p.dlp?.detectors },
    inspectMaxBytes: p.inspect_max_bytes ?? 8 << 20,
    oversize: p.oversize ?? 'deny',
    prices: config.prices ?? {},
  };
}

const FIELDS: Record<PolicyLimit['type'], (keyof PolicyLimit)[]> = {
  rate_limit: ['max_requests_per_minute'],
  time_restriction: ['allowed_hours_start', 'allowed_hours_end', 'allowed_days', 'time_zone'],
  spending_limit: ['max_tokens', 'max_amount', 'currency', 'per', 'time_zone'],
};

export function checkPolicy(
  config: Pick<ResolvedConfig, 'policy' | 'prices'>,
  where: (path: JsonPath) => string,
): void {
  const problems: string[] = [];
  const say = (path: JsonPath, message: string) =>
    problems.push(`${where(path)}: ${path.join('.').replace(/\.(\d+)/g, '[$1]')}: ${message}`);
  const ids = new Map<string, number>();
  config.policy.rules.forEach((rule, i) => {
    if (rule.id !== undefined) {
      if (ids.has(rule.id))
        say(
          ['policy', 'rules', i, 'id'],
          `${JSON.stringify(rule.id)} is already the id of rules[${ids.get(rule.id)}]; ids name rules in ` +
            `events and must be unique`,
        );
      ids.set(rule.id, i);
    }
    if (rule.policies?.length && rule.action !== 'allow') {
      say(
        ['policy', 'rules', i, 'policies'],
        `limits apply to allow rules only (this rule's action is ${rule.action})`,
      );
    }
    (rule.policies ?? []).forEach((limit, j) => {
      const at: JsonPath = ['policy', 'rules', i, 'policies', j];
      for (const key of Object.keys(limit) as (keyof PolicyLimit)[]) {
        if (key === 'type' || FIELDS[limit.type].includes(key)) continue;
        const owner = (Object.keys(FIELDS) as PolicyLimit['type'][]).find((t) => FIELDS[t].includes(key));
        say([...at, key], `${key} belongs to ${owner}, not ${limit.type}`);
      }
      if (limit.time_zone !== undefined && !isTimeZone(limit.time_zone))
        say(
          [...at, 'time_zone'],
          `${JSON.stringify(limit.time_zone)} is not a time zone (IANA names such as Europe/Berlin or UTC)`,
        );
      if (limit.type === 'rate_limit' && limit.max_requests_per_minute === undefined)
        say(at, 'rate_limit needs max_requests_per_minute');
      if (limit.type === 'time_restriction') {
        if ((limit.allowed_hours_start === undefined) !== (limit.allowed_hours_end === undefined)) {
          say(at, 'time_restriction needs both allowed_hours_start and allowed_hours_end, or neither');
        } else if (limit.allowed_hours_start === undefined && !limit.allowed_days?.length) {
          say(at, 'time_restriction needs allowed_hours_start/allowed_hours_end or allowed_days');
        } else if (limit.allowed_hours_start !== undefined && limit.allowed_hours_start === limit.allowed_hours_end) {
          say(at, 'allowed_hours_start and allowed_hours_end are equal: no hour would be allowed');
        }
      }
      if (limit.type === 'spending_limit') {
        if (limit.max_tokens === undefined && limit.max_amount === undefined)
          say(at, 'spending_limit needs max_tokens or max_amount');
        if (limit.max_amount !== undefined && Object.keys(config.prices ?? {}).length === 0) {
          say(
            [...at, 'max_amount'],
            'a budget in money needs prices: (per million tokens, by model) to price the usage with',
          );
        }
      }
    });
  });
  if (problems.length) throw new MoatError('MOAT_ERR_CONFIG_INVALID', problems.join('\n'));
  checkWhen(config, where);
}

/**
 * Every rule's `when:` compiled and type-checked now, so that a broken one stops `plan` / `up` (and a reload keeps the
 * policy in force) instead of denying requests later. The error names the value's place in the file and the line and
 * column inside the expression.
 */
function checkWhen(config: Pick<ResolvedConfig, 'policy'>, where: (path: JsonPath) => string): void {
  const problems: string[] = [];
  config.policy.rules.forEach((rule, i) => {
    if (rule.when === undefined) return;
    try {
      compileWhen(rule.when);
    } catch (err) {
      if (!(err instanceof CelCompileError)) throw err;
      const inside = rule.when.includes('\n') ? `line ${err.line}, column ${err.column}` : `column ${err.column}`;
      problems.push(
        `${where(['policy', 'rules', i, 'when'])}: policy.rules[${i}].when: ${err.message} ` +
          `(at ${inside} of the expression ${JSON.stringify(rule.when)})`,
      );
    }
  });
  if (problems.length) throw new MoatError('MOAT_ERR_POLICY_EXPRESSION', problems.join('\n'));
}
