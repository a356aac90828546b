// `moat chain policy learn [--since DURATION]`: reads the agent's requests (boundary 0, recorded by hop 1's process)
// and moat's denials from the ledger, and hands them to policy-learn.ts.
import type { LedgerLocation } from '../ledger/commands';
import { queryEvents } from '../ledger/commands';
import { MoatError } from '../errors';
import { learnPolicy, type LearnedPolicy } from './policy-learn';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30m`, `2h`, `7d`, `90s`: milliseconds; anything else is a usage error. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m || Number(m[1]) === 0)
    throw new MoatError('MOAT_ERR_USAGE', `--since takes a duration such as 30m, 2h or 7d, got "${text}"`);
  return Number(m[1]) * UNITS[m[2]];
}

export async function learnPolicyFromLedger(
  layout: LedgerLocation,
  since: string | undefined,
  now = Date.now(),
): Promise<LearnedPolicy> {
  const from = since === undefined ? undefined : now - parseDuration(since);
  const inTime = (time: string) => from === undefined || Date.parse(time) >= from;
  const [first, denied] = await Promise.all([
    queryEvents(layout, { hop: 1 }),
    queryEvents(layout, { decision: 'deny' }),
  ]);
  const events = [...first, ...denied].filter((e) => inTime(e.time));
  const what = since === undefined ? '(all of it)' : `(the last ${since})`;
  if (!events.some((e) => e.direction === 'request' && e.boundary === 0))
    throw new MoatError(
      'MOAT_ERR_LEARN_NOTHING',
      `the ledger has no request ${since === undefined ? 'yet' : `in the last ${since}`}: send the agent's traffic ` +
        'through the chain first (policy.mode: report lets it all through)',
    );
  return learnPolicy(events, what);
}
