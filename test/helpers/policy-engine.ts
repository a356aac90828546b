// A PolicyEngine for unit tests: enforce mode, DLP on, a 1 KiB inspection limit that denies what is over it, no
// prices, unless `extra` says otherwise; the clock and the DLP scanner are the test's.
import { PolicyEngine, type PolicySettings, type SecretScanner } from '../../hops/policy/engine';
import { UsageBook } from '../../hops/policy/usage-book';
import type { PolicyRule } from '../../schemas/generated/chain-config';

export function testPolicyEngine(
  rules: PolicyRule[],
  extra: Partial<PolicySettings>,
  now: () => number,
  scan: SecretScanner,
): PolicyEngine {
  const settings: PolicySettings = {
    mode: 'enforce',
    rules,
    dlp: { enabled: true },
    inspectMaxBytes: 1024,
    oversize: 'deny',
    prices: {},
    ...extra,
  };
  return new PolicyEngine(settings, { now, scan, usage: new UsageBook() });
}
