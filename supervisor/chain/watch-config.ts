// The plan's part of the hung-hop watchdog (hops/runtime/hop-watchdog.ts): the link in front of a third-party forward
// hop learns the Moat process after the hop, which it probes directly besides probing through the hop, so that a hung
// Moat process behind a healthy third-party hop is blamed correctly. (Behind a base_url hop that is `skip` already.)
// And ingress.body_timeout_s, which every Moat process applies (a body trickles through all of them alike).
import type { PlannedProcess } from './plan-types';
import { BODY_TIMEOUT_DEFAULTS } from '../../hops/logic/body-deadline';

export function wireWatch(processes: PlannedProcess[], bodyTimeoutS = BODY_TIMEOUT_DEFAULTS.baseMs / 1000): void {
  if (bodyTimeoutS !== BODY_TIMEOUT_DEFAULTS.baseMs / 1000)
    for (const p of processes) if (p.spec) p.spec.bodyTimeoutS = bodyTimeoutS;
  for (let i = 0; i + 2 < processes.length; i++) {
    const spec = processes[i].spec;
    const after = processes[i + 2];
    if (
      !spec ||
      processes[i + 1].role !== 'third-party' ||
      spec.nextKind === 'base_url' ||
      spec.nextDialsDirectly ||
      !after.spec
    )
      continue;
    spec.beyond = { port: after.port, hop: after.hop, name: after.name, moat: true, tokenFile: after.spec.tokenFile };
  }
}
