// The chain as the dashboard shows it: the plan's processes with what pm2 says of them (pid, state,
// restarts), the way `moat chain status` shows them, plus each third-party hop's kind.
import { statusRows, type StatusRow } from '../chain/lifecycle';
import type { Plan } from '../chain/plan';
import type { Pm2Process } from '../chain/pm2-session';
import type { HopRef } from './stats';
import type { LedgerHealth } from '../ledger/health';

export interface ChainProcess extends StatusRow {
  /** Third-party hops: forward proxy or base_url; from a manifest, its name. */
  kind?: string;
  manifest?: string;
}

export interface ChainView {
  chain: string;
  config_file: string;
  processes: ChainProcess[];
  /** Whether pm2 answered; without it pids and states are unknown. */
  pm2: boolean;
  /** The chain's ledger writer: storing events, or failing and why (absent: no writer here, or not known yet). */
  ledger?: LedgerHealth;
  /** On a shared NATS (events.nats_url): where the chain's stream is kept, and whether it answers (issue 23). */
  stream?: { line: string; problem?: string };
}

/** The hops events name, 1..N+1 (egress last); a third-party hop's link and proxy share one number. */
export function hopRefs(plan: Plan): HopRef[] {
  const seen = new Map<number, string>();
  for (const p of plan.processes) if (p.hop >= 1 && !seen.has(p.hop)) seen.set(p.hop, p.name);
  return [...seen].map(([hop, name]) => ({ hop, name }));
}

export function chainView(plan: Plan, live: readonly Pm2Process[] | undefined, now = Date.now()): ChainView {
  const planned = [...(plan.services ?? []), ...plan.processes];
  const processes = statusRows(plan, live ?? [], now).map((row, i): ChainProcess => {
    const p = planned[i];
    return {
      ...row,
      ...(live ? {} : { state: 'unknown' }),
      ...(p.kind ? { kind: p.kind } : {}),
      ...(p.manifest ? { manifest: p.manifest } : {}),
    };
  });
  return { chain: plan.chain, config_file: plan.configFile, processes, pm2: live !== undefined };
}
