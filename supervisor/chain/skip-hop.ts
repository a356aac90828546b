// Which hops `moat chain replay --skip-hop N` and `bisect` may skip, decided from the plan alone, and the wiring that
// gives the Moat process of each such hop the chain's skip key (hops/logic/replay-skip.ts). A policy hop (moat-policy,
// or a third-party hop marked `policy: true`) gets no key, so no ask, however signed, makes its process skip it; nor
// does a last hop that dials destinations itself (no Moat process after it to send to). Pure.
import { POLICY_HOP } from '../../hops/builtin-hops';
import { MoatError } from '../errors';
import type { PlannedProcess } from './plan-types';

/** The id of the skip key among the chain's credentials (`<state>/links/replay-skip.token`, written 0600 by `up`). */
export const SKIP_KEY_ID = 'replay-skip';

export type Skippability =
  { ok: true; process: PlannedProcess } | { ok: false; process: PlannedProcess; policy: boolean; reason: string };

/** The hops of a chain, 1..N, in order: only those of proxies:, not ingress or egress. */
export function hopNumbers(processes: readonly PlannedProcess[]): number[] {
  return [...new Set(processes.filter((p) => p.role === 'builtin' || p.role === 'link').map((p) => p.hop))];
}

/** Whether hop `hop` may be skipped, and the Moat process that would send its requests round it. */
export function skippability(processes: readonly PlannedProcess[], hop: number): Skippability {
  const moat = processes.find((p) => p.hop === hop && (p.role === 'builtin' || p.role === 'link'));
  if (!moat) {
    const hops = hopNumbers(processes);
    throw new MoatError(
      'MOAT_ERR_USAGE',
      `--skip-hop needs a hop number from 1 to ${hops.length} (the hops of proxies:), got ${hop}`,
    );
  }
  const label = `hop ${hop} (${moat.name})`;
  const policyHop = (why: string) => ({
    ok: false as const,
    process: moat,
    policy: true,
    reason: `${label} is a policy hop (${why}): it is never skipped, by a replay or otherwise`,
  });
  if (moat.role === 'builtin') return moat.name === POLICY_HOP ? policyHop('moat-policy') : { ok: true, process: moat };
  const hopProcess = processes.find((p) => p.hop === hop && p.role === 'third-party');
  if (hopProcess?.policy) return policyHop('policy: true');
  if (moat.spec?.onward.kind === 'last_hop')
    return {
      ok: false,
      process: moat,
      policy: false,
      reason: `${label} dials destinations itself and is last: there is no Moat process after it to send to`,
    };
  return { ok: true, process: moat };
}

/** Gives the skip key to the process of every hop that may be skipped; called once the onward routes are wired. */
export function wireSkipKey(processes: PlannedProcess[], keyFile: string): void {
  for (const hop of hopNumbers(processes)) {
    const s = skippability(processes, hop);
    if (s.ok) s.process.spec!.skipKeyFile = keyFile;
    else s.process.spec!.notSkippable = s.reason;
  }
}
