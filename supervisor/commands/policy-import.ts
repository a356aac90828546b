// `moat chain policy import agentreserve.yaml`: an @agentreserve/proxy config converted to the
// policy: section of moat.yaml. Pure (text in, YAML text and warnings out); the CLI prints them.
// Where agentreserve 0.1.0 behaves differently from what its config says, a warning says so.
import { stringify } from 'yaml';
import type { PolicyLimit, PolicyRule } from '../../schemas/generated/chain-config';
import { parseAgainstSchema } from '../config/yaml-schema';
import { parseConfig } from '../config/load';
import { MoatError } from '../errors';
import { POLICY_HOP } from '../../hops/builtin-hops';

// What agentreserve 0.1.0 reads (its dist/config.d.ts), loosely: it ignores unknown keys, we name them.
const AGENTRESERVE_SCHEMA = {
  type: 'object',
  properties: {
    proxy: { type: 'object' },
    audit: { type: 'object' },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['match', 'action'],
        properties: {
          match: { type: 'string', minLength: 1 },
          action: { type: 'string', enum: ['allow', 'deny', 'log'] },
          reason: { type: 'string' },
          policies: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['type'],
              properties: {
                type: { type: 'string', enum: ['rate_limit', 'time_restriction', 'spending_limit'] },
                max_requests_per_minute: { type: 'integer', minimum: 1 },
                max_amount: { type: 'number' },
                currency: { type: 'string' },
                allowed_hours_start: { type: 'integer', minimum: 0, maximum: 23 },
                allowed_hours_end: { type: 'integer', minimum: 1, maximum: 24 },
                allowed_days: { type: 'array', items: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  },
};

interface AgentreserveLimit {
  type: PolicyLimit['type'];
  max_requests_per_minute?: number;
  max_amount?: number;
  currency?: string;
  allowed_hours_start?: number;
  allowed_hours_end?: number;
  allowed_days?: string[];
}

interface AgentreserveConfig {
  rules?: { match: string; action: PolicyRule['action']; reason?: string; policies?: AgentreserveLimit[] }[];
}

export interface ImportedPolicy {
  policy: { rules: PolicyRule[] };
  warnings: string[];
  /** The policy: section as YAML, warnings as comments at its top. */
  yaml: string;
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export function importAgentreserve(text: string, file: string): ImportedPolicy {
  const { data, where } = parseAgainstSchema<AgentreserveConfig>(text, file, AGENTRESERVE_SCHEMA, {
    syntax: 'MOAT_ERR_IMPORT_SYNTAX',
    invalid: 'MOAT_ERR_IMPORT_INVALID',
  });
  const warnings: string[] = [];
  const source = data.rules ?? [];
  if (source.length === 0)
    warnings.push(
      'no rules: agentreserve then logs everything, which moat-policy does for every request anyway (events)',
    );
  const rules = source.map((r, i): PolicyRule => {
    const at = `rules[${i}]`;
    const match = r.match.replace(/^https?:\/\//, '');
    const slash = match.indexOf('/');
    if (slash >= 0 && match.endsWith('/*') && match.slice(slash) !== '/*') {
      warnings.push(
        `${at}: agentreserve 0.1.0 applies "${r.match}" to every path of the host; moat applies it to paths ` +
          `under ${match.slice(slash, -1)} only`,
      );
    }
    const rule: PolicyRule = { match, action: r.action };
    if (r.reason !== undefined) rule.reason = r.reason;
    const limits = (r.policies ?? []).flatMap((p, j) =>
      convertLimit(p, `${at}.policies[${j}]`, warnings, (k) => where(['rules', i, 'policies', j, 'allowed_days', k])),
    );
    if (limits.length && r.action !== 'allow') {
      warnings.push(
        `${at}: ${r.action} rules take no limits in moat (agentreserve never reaches them either); dropped ` +
          `${limits.length}`,
      );
    } else if (limits.length) {
      rule.policies = limits;
    }
    return rule;
  });
  const policy = { rules };
  // What comes out must load: checked as moat.yaml would be (with a price for any model, which the user
  // must add for a money budget), so a user never pastes an invalid section.
  parseConfig(
    stringify({ proxies: [POLICY_HOP], policy, prices: { '*': { input: 0, output: 0 } } }),
    `${file} (converted)`,
  );
  const header = [
    `# policy: converted from ${file} by moat chain policy import`,
    ...warnings.map((w) => `# warning: ${w}`),
  ].join('\n');
  return { policy, warnings, yaml: `${header}\n${stringify({ policy })}` };
}

function convertLimit(
  p: AgentreserveLimit,
  at: string,
  warnings: string[],
  dayAt: (k: number) => string,
): PolicyLimit[] {
  if (p.type === 'rate_limit')
    return [{ type: 'rate_limit', max_requests_per_minute: p.max_requests_per_minute ?? 60 }];
  if (p.type === 'spending_limit') {
    if (p.max_amount === undefined || p.max_amount <= 0) {
      warnings.push(`${at}: a spending_limit without a positive max_amount limits nothing; dropped`);
      return [];
    }
    warnings.push(
      `${at}: agentreserve 0.1.0 does not enforce spending_limit; moat does, per day, pricing usage with ` +
        `prices: (add one per model you use; moat chain plan refuses the budget until then)`,
    );
    const limit: PolicyLimit = { type: 'spending_limit', max_amount: p.max_amount };
    if (p.currency !== undefined) limit.currency = p.currency;
    return [limit];
  }
  const limit: PolicyLimit = { type: 'time_restriction' };
  if (p.allowed_hours_start !== undefined) limit.allowed_hours_start = p.allowed_hours_start;
  if (p.allowed_hours_end !== undefined) limit.allowed_hours_end = p.allowed_hours_end;
  if (p.allowed_days?.length) {
    limit.allowed_days = p.allowed_days.map((d, k) => {
      const day = d.toLowerCase().slice(0, 3) as (typeof DAYS)[number];
      if (!DAYS.includes(day))
        throw new MoatError(
          'MOAT_ERR_IMPORT_INVALID',
          `${dayAt(k)}: ${at}.allowed_days[${k}]: "${d}" is not a day (mon ... sun)`,
        );
      // agentreserve compares the lower-cased name with mon..sun, so "Monday" never matched there.
      if (d.toLowerCase() !== day)
        warnings.push(`${at}.allowed_days: "${d}" read as ${day} (agentreserve 0.1.0 matches only three-letter names)`);
      return day;
    });
  }
  return [limit];
}
