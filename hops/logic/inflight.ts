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

  /** Records a request sent into the hop; call the returned function when its exchange is over. */
  add(request: InflightRequest): () => void {
    const entry: Entry = { ...request, claimed: false };
    this.entries.add(entry);
    return () => this.entries.delete(entry);
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
