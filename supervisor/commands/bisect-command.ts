// `moat chain bisect TRACE`: the recorded request replayed into hop 1 through every hop (the baseline), then with each
// hop skipped in turn; bisect.ts compares the outcomes. Policy hops are listed as not skippable and never skipped.
import type { StateLayout } from '../chain/state';
import { hopNumbers, skippability } from '../chain/skip-hop';
import { prepareReplay, sendReplay } from './replay-command';
import { culprits, noisyFields, outcomeChange, responseError, type BisectReport, type HopVerdict } from './bisect';

export async function bisectTrace(layout: StateLayout, trace: string): Promise<BisectReport> {
  const p = await prepareReplay(layout, trace, 1);
  const baseline = await sendReplay(p);
  const recorded = p.events.find((e) => e.direction === 'response' && e.boundary === 0);
  const noisy = noisyFields(recorded?.body, baseline.response);
  const hops: HopVerdict[] = [];
  for (const hop of hopNumbers(p.plan.processes)) {
    const s = skippability(p.plan.processes, hop);
    if (!s.ok) {
      hops.push({ hop, name: s.process.name, skippable: false, policy: s.policy, reason: s.reason });
      continue;
    }
    const sent = await sendReplay(p, hop);
    const change = outcomeChange(baseline.response, sent.response, noisy);
    hops.push({
      hop,
      name: s.process.name,
      skippable: true,
      skipped: sent.skipped === true,
      replay_trace: sent.replayTrace,
      ...(change ? { change } : {}),
    });
  }
  return {
    trace,
    baseline: {
      replay_trace: baseline.replayTrace,
      status: baseline.response.status,
      ...(responseError(baseline.response) ? { error: responseError(baseline.response) } : {}),
    },
    hops,
    culprits: culprits(hops),
  };
}
