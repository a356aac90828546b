// Correlation when a hop drops x-moat-trace. The link in front of a third-party hop keeps the
// requests it has sent into the hop and not yet seen answered; the process after the hop, given
// a request with no trace, claims the oldest unclaimed one that looks like it. Pure: no sockets.

export interface InflightRequest {
  trace: string;
  method: string;
  host: string;
  /** Path with query, as sent. */
  path: string;
}

export interface ClaimQuery {
  method: string;
  host: string;
  path: string;
}

interface Entry extends InflightRequest {
  claimed: boolean;
  /** The request whose leaving removes this entry (it changes hands: leave() below). */
  owner: Departure;
}

/** A request sent into the hop, until its exchange is over. */
interface Departure {
  entry: Entry;
  left?: boolean;
}

const withoutQuery = (path: string) => path.split('?')[0];

// Closest first: a hop that only drops headers keeps method, host and path; one that changes the
// destination or the API (Anthropic -> OpenAI) keeps at least the method, and order decides.
const TIERS: ((e: Entry, q: ClaimQuery) => boolean)[] = [
  (e, q) => e.method === q.method && e.host === q.host && e.path === q.path,
  (e, q) => e.method === q.method && withoutQuery(e.path) === withoutQuery(q.path),
  (e, q) => e.method === q.method,
];

export class InflightRegistry {
  // Insertion order is the order the requests went into the hop.
  private readonly entries = new Set<Entry>();

  /**
   * Records a request sent into the hop; call the returned function when its exchange is over, with `claimed` true
   * when the process after the hop says it claimed an entry here for it (its answer's mark).
   */
  add(request: InflightRequest): (claimed?: boolean) => void {
    const departure = {} as Departure;
    departure.entry = { ...request, claimed: false, owner: departure };
    this.entries.add(departure.entry);
    return (claimed = false) => this.leave(departure, claimed);
  }

  /**
   * A request's exchange is over. When a claim was made for it but its own entry is unclaimed, requests alike overtook
   * one another inside the hop and that claim took another one's entry: a claimed entry alike goes in its place, and
   * its own stays, unclaimed, for the request still to arrive (whose leaving then removes it). Otherwise the last of
   * several requests alike would find nothing to claim, and a trace would be split in two.
   */
  private leave(departure: Departure, claimed: boolean): void {
    if (departure.left) return;
    departure.left = true;
    const entry = departure.entry;
    if (!this.entries.has(entry)) return;
    const standIn = claimed && !entry.claimed ? this.claimedLike(entry) : undefined;
    if (!standIn) {
      this.entries.delete(entry);
      return;
    }
    this.entries.delete(standIn);
    standIn.owner.entry = entry;
    entry.owner = standIn.owner;
  }

  /** The oldest claimed entry that a claim for `entry`'s request could have taken (the claim's own order). */
  private claimedLike(entry: Entry): Entry | undefined {
    for (const matches of TIERS)
      for (const e of this.entries) if (e !== entry && e.claimed && matches(e, entry)) return e;
    return undefined;
  }

  /** The trace of the oldest unclaimed request matching `q`, now claimed; undefined when none matches. */
  claim(q: ClaimQuery): string | undefined {
    for (const matches of TIERS) {
      for (const entry of this.entries) {
        if (!entry.claimed && matches(entry, q)) {
          entry.claimed = true;
          return entry.trace;
        }
      }
    }
    return undefined;
  }

  get size(): number {
    return this.entries.size;
  }
}
