// Blind tunnels behind a third-party hop that answers CONNECT with 200 before it opens its own side: mitmproxy in
// upstream mode does (it sends its CONNECT on only once the client's first bytes, the TLS ClientHello, arrive), and so
// does a hop isolated in network namespaces that dials destinations itself (its namespace accepts the connection at
// once). A refusal further on then reached the agent as "200, then closed". So the link in front of such a hop, once
// the hop said 200 and before it tells the agent, asks the Moat process after the hop to open the tunnel onwards
// (a CONNECT with PARK_HEADER): a refusal answers the agent's CONNECT; an open tunnel waits here, in that process,
// until the hop's own CONNECT for the same trace and destination arrives and takes it. A hop that opened its side
// before answering (tinyproxy relays its upstream's answer) already has its tunnel: the ask is answered 200 at once.
import type net from 'node:net';

/** The header of the link in front's CONNECT that asks the Moat process after a hop to open and hold a tunnel. */
export const PARK_HEADER = 'x-moat-park';
/** How long an opened tunnel waits for the hop's CONNECT (the agent's ClientHello follows its 200 at once). */
export const PARK_TIMEOUT_MS = 10_000;

/** A tunnel opened onwards and held: `adopt` hands it the hop's connection. */
export interface ParkedTunnel {
  adopt(client: net.Socket, head: Buffer): void;
}

export class TunnelParking {
  private readonly parked = new Map<string, { tunnel: ParkedTunnel; timer: NodeJS.Timeout; expire: () => void }>();
  private readonly live = new Map<string, number>();

  /** Holds `tunnel` for the hop's CONNECT; `expire` runs when none came in time. */
  park(key: string, tunnel: ParkedTunnel, expire: () => void, timeoutMs = PARK_TIMEOUT_MS): void {
    // A second ask for the same trace and destination (the link asks once; a hop could ask again): the first goes.
    const before = this.parked.get(key);
    if (before) {
      this.parked.delete(key);
      clearTimeout(before.timer);
      before.expire();
    }
    // Taking or replacing an entry clears its timer: one that fires is still this entry's.
    const timer = setTimeout(() => {
      this.parked.delete(key);
      expire();
    }, timeoutMs);
    timer.unref();
    this.parked.set(key, { tunnel, timer, expire });
  }

  /** The tunnel held for this trace and destination, now taken; undefined when none is held. */
  take(key: string): ParkedTunnel | undefined {
    const entry = this.parked.get(key);
    if (!entry) return undefined;
    this.parked.delete(key);
    clearTimeout(entry.timer);
    return entry.tunnel;
  }

  /** A tunnel for this trace and destination is open through the hop; the returned function says it closed. */
  opened(key: string): () => void {
    this.live.set(key, (this.live.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.live.get(key) ?? 1) - 1;
      if (left > 0) this.live.set(key, left);
      else this.live.delete(key);
    };
  }

  isOpen(key: string): boolean {
    return this.live.has(key);
  }

  get size(): number {
    return this.parked.size;
  }
}

/** Trace and destination: what the hop's CONNECT must match to take a held tunnel. */
export function parkingKey(view: { trace: string; host: string; port: number }): string {
  return `${view.trace} ${view.host}:${view.port}`;
}
