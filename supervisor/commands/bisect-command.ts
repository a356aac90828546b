// `moat chain bisect TRACE`: the recorded request replayed into hop 1 through every hop (the baseline), then with each
// hop skipped in turn; bisect.ts compares the outcomes (responses, and the marks of each replay's events, read from
// the ledger once it holds them all). Policy hops are listed as not skippable and never skipped.
import type { StateLayout } from '../chain/state';
import { hopNumbers, skippability } from '../chain/skip-hop';
import { prepareReplay, replayEvents, sendReplay, type SentReplay } from './replay-command';
import { boundariesOf } from './replay';
import {
  culprits,
  noisyFields,
  noisyMarks,
  outcomeChange,
  responseError,
  traceMarks,
  type BisectReport,
  type HopVerdict,
} from './bisect';

export async function bisectTrace(layout: StateLayout, trace: string): Promise<BisectReport> {
  const p = await prepareReplay(layout, trace, 1);
  const baseline = await sendReplay(p);
  const recorded = p.events.find((e) => e.direction === 'response' && e.boundary === 0);
  const noisy = noisyFields(recorded?.body, baseline.response, recorded?.headers?.['content-type']);
  const sent = new Map<number, SentReplay>();
  const notSkippable: HopVerdict[] = [];
  for (const hop of hopNumbers(p.plan.processes)) {
    const s = skippability(p.plan.processes, hop);
    if (!s.ok) notSkippable.push({ hop, name: s.process.name, skippable: false, policy: s.policy, reason: s.reason });
    else sent.set(hop, await sendReplay(p, hop));
  }
  // Marks are worked out from every boundary's events: wait until the ledger has them for each replay.
  const traces = [baseline.replayTrace, ...[...sent.values()].map((r) => r.replayTrace)];
  const { events, late } = await replayEvents(layout, traces, boundariesOf(p.events));
  const marksOf = (t: string) => traceMarks(events.get(t) ?? []);
  const baselineMarks = marksOf(baseline.replayTrace);
  const noise = noisyMarks(traceMarks(p.events), baselineMarks);
  const hops: HopVerdict[] = [...notSkippable];
  for (const [hop, r] of sent) {
    const s = skippability(p.plan.processes, hop);
    const change = outcomeChange(baseline.response, r.response, noisy, {
      baseline: baselineMarks,
      replayed: marksOf(r.replayTrace),
      noisy: noise,
    });
    hops.push({
      hop,
      name: s.process.name,
      skippable: true,
      skipped: r.skipped === true,
      replay_trace: r.replayTrace,
      ...(change ? { change } : {}),
    });
  }
  hops.sort((a, b) => a.hop - b.hop);
  const error = responseError(baseline.response);
  return {
    trace,
    baseline: {
      replay_trace: baseline.replayTrace,
      status: baseline.response.status,
      ...(error ? { error } : {}),
      marks: baselineMarks,
    },
    ...(late.length
      ? {
          warnings: late.map(
            (t) => `the ledger did not hold every event of replay ${t} in time: its marks may be missing`,
          ),
        }
      : {}),
    hops,
    culprits: culprits(hops),
  };
}
