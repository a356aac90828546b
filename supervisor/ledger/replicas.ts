// How many servers of a NATS cluster keep a chain's stream (events.replicas, issue 23), and what a
// JetStream API failure means for whoever made the call (pure): a stream or consumer that is not
// there, one that is there but cannot answer now (its servers down, a leader being elected), or a
// cluster that cannot place the replicas asked for. Only "not there" may lead to making anything
// anew: a stream that is merely unavailable must be waited for, never replaced or deleted.
import type { ClusterInfo } from 'nats';

/** Servers of the cluster a connection reached (the cluster announces every server's client address), or 1. */
export function clusterServers(info: { cluster?: string; connect_urls?: string[] } | undefined): number {
  if (!info?.cluster) return 1;
  return Math.max(1, new Set(info.connect_urls ?? []).size);
}

/** events.replicas when set; else 3 on a cluster of at least three servers, 1 otherwise. */
export function wantedReplicas(configured: number | undefined, servers: number): number {
  if (configured !== undefined) return configured;
  return servers >= 3 ? 3 : 1;
}

export type JsFailure = 'not-found' | 'unavailable' | 'placement' | 'other';

interface ApiErrorLike {
  code?: string;
  message?: string;
  api_error?: { code?: number; err_code?: number; description?: string };
}

// JetStream's err_codes: 10059 stream not found, 10014 consumer not found; 10005 no suitable peers for placement,
// 10023 insufficient resources, 10074 replicas > 1 on a single server; 10008 JetStream temporarily unavailable.
const NOT_FOUND = new Set([10059, 10014]);
const PLACEMENT = new Set([10005, 10023, 10074]);

export function jsFailure(err: unknown): JsFailure {
  const e = (err ?? {}) as ApiErrorLike;
  const errCode = e.api_error?.err_code;
  if (errCode !== undefined && NOT_FOUND.has(errCode)) return 'not-found';
  if (errCode !== undefined && PLACEMENT.has(errCode)) return 'placement';
  if (errCode === 10008) return 'unavailable';
  // No JetStream answer at all: no responders (503), a timeout, a connection being re-established.
  if (['TIMEOUT', '503', 'CONNECTION_CLOSED', 'CONNECTION_DRAINING', 'DISCONNECT'].includes(String(e.code)))
    return 'unavailable';
  const text = `${e.message ?? ''} ${e.api_error?.description ?? ''}`;
  if (/timeout|no responders|temporarily unavailable|offline|no leader|leader.*(lost|unknown)/i.test(text))
    return 'unavailable';
  if (/stream not found|consumer not found/i.test(text)) return 'not-found';
  return 'other';
}

/** Where a stream is: its replica count and, on a cluster, which servers hold it and which are current. */
export interface StreamPlacement {
  name: string;
  replicas: number;
  /** The NATS cluster's name; absent on a single server. */
  cluster?: string;
  leader?: string;
  /** Every server holding a copy, the leader first. */
  servers?: { name: string; leader?: true; current: boolean; offline?: true }[];
}

export function placementOf(
  name: string,
  replicas: number | undefined,
  cluster: ClusterInfo | undefined,
): StreamPlacement {
  const p: StreamPlacement = { name, replicas: replicas || 1 };
  if (!cluster?.name) return p;
  p.cluster = cluster.name;
  p.servers = [];
  if (cluster.leader) {
    p.leader = cluster.leader;
    p.servers.push({ name: cluster.leader, leader: true, current: true });
  }
  for (const r of cluster.replicas ?? [])
    p.servers.push({ name: r.name, current: r.current, ...(r.offline ? { offline: true as const } : {}) });
  return p;
}

/** One line: "3 replicas on cluster c: n1 (leader), n2, n3 (offline)" / "1 replica". */
export function describePlacement(p: StreamPlacement): string {
  const count = `${p.replicas} replica${p.replicas === 1 ? '' : 's'}`;
  if (!p.servers) return count;
  const servers = p.servers.map(
    (s) => `${s.name}${s.leader ? ' (leader)' : s.offline ? ' (offline)' : s.current ? '' : ' (catching up)'}`,
  );
  const missing = p.leader ? '' : ', NO LEADER (its servers are down: events wait in the hops until it is back)';
  return `${count} on cluster ${p.cluster}: ${servers.join(', ') || 'none reachable'}${missing}`;
}
