// A PolicyEngine for unit tests: enforce mode, DLP on, a 1 KiB inspection limit that denies what is over it, no
// prices, unless `extra` says otherwise; the clock and the DLP scanner are the test's. And the request views they
// decide on.
import { PolicyEngine, type PolicySettings, type SecretScanner } from '../../hops/policy/engine';
import { UsageBook } from '../../hops/policy/usage-book';
import type { PolicyRule } from '../../schemas/generated/chain-config';
import type { RequestView } from '../../hops/logic/view';

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

/** A request as moat-policy sees it: POST over HTTPS on 443, no headers, unless `o` says otherwise. */
export const policyView = (host: string, path: string, o: Partial<RequestView> = {}): RequestView => ({
  method: 'POST',
  scheme: 'https',
  host,
  port: 443,
  path,
  headers: {},
  trace: 't1',
  ...o,
});
