// How each Moat process reaches the next one (LinkSpec.onward, hops/spec.ts), decided in one pass once every process
// of the chain has its port and every third-party hop its settings: the next Moat process, a third-party forward hop
// (with the Moat process beyond it, which the hung-hop watchdog probes directly), a last hop that dials destinations
// itself, a base_url hop (with the process requests outside its scope go to), or, for egress, the internet. The
// process after a third-party hop learns the link in front of it, which it asks for lost traces.
import type { ResolvedConfig } from '../config/types';
import type { ThirdPartyHop } from '../config/hop-resolution';
import type { NextHop, Onward } from '../../hops/spec';
import type { PlannedProcess } from './plan-types';

export function wireOnward(
  processes: PlannedProcess[],
  config: Pick<ResolvedConfig, 'proxies' | 'egress'>,
  linkSocketName: (processId: string) => string | undefined,
): void {
  processes.forEach((p, i) => {
    if (!p.spec) return;
    const next = processes[i + 1];
    if (!next) {
      p.spec.onward = { kind: 'internet' };
      return;
    }
    if (next.spec) {
      // Moat to Moat: link TLS over a Unix socket (a third-party hop only speaks TCP, so the port stays for it).
      const socket = linkSocketName(next.id);
      if (socket) next.spec.socket = socket;
      p.spec.onward = { kind: 'moat', next: doorTo(next) };
      return;
    }
    // A third-party hop always has a Moat process after it (a link, a built-in hop or egress).
    const entry = config.proxies[next.hop - 1] as ThirdPartyHop;
    const after = processes[i + 2];
    p.spec.onward = toThirdParty(entry, doorTo(next), doorTo(after), next.trustCa, config.egress);
    // The link in front of the hop answers the process after it, and only it, which request a lost trace belongs to;
    // HTTPS the link handed the hop as plain HTTP (tls: plain) becomes HTTPS again there.
    p.spec.claimTokenFile = after.spec!.tokenFile;
    after.spec!.afterHop = {
      link: { port: p.port, hop: p.hop, name: p.name },
      ...(entry.tls === 'plain' ? { restoreHttps: true as const } : {}),
    };
  });
}

function toThirdParty(
  entry: ThirdPartyHop,
  next: NextHop,
  after: NextHop,
  trustCaFile: string | undefined,
  egress: ResolvedConfig['egress'],
): Onward {
  const trust = trustCaFile ? { trustCaFile } : {};
  if (entry.kind === 'base_url')
    return {
      kind: 'base_url_hop',
      next,
      scope: { hosts: entry.scope!.hosts, paths: entry.scope!.paths ?? [] },
      skip: after,
    };
  // Not isolated, what it dials never reaches egress: its link is the last Moat process on the way out.
  if (entry.dials_directly && entry.isolation !== 'netns')
    return { kind: 'last_hop', next, allow: egress.allow, extraCa: egress.extra_ca, ...trust };
  return {
    kind: 'forward_hop',
    next,
    beyond: after,
    ...(entry.tls === 'plain' ? { plain: true as const } : {}),
    ...trust,
    ...(entry.dials_directly ? { dialsDirectly: true as const } : {}),
  };
}

/** How a process is addressed: a Moat process by its credential, an isolated hop by its entrance's. */
function doorTo(p: PlannedProcess): NextHop {
  const door = p.spec
    ? { moat: true, tokenFile: p.spec.tokenFile, ...(p.spec.socket ? { socket: p.spec.socket } : {}) }
    : p.entranceFile
      ? { entranceFile: p.entranceFile }
      : {};
  return { port: p.port, hop: p.hop, name: p.name, ...door };
}
