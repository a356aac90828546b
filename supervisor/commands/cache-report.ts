// `moat chain cache`: per hop, how many provider requests had their cacheable prefix changed by it (provider facts'
// cache_prefix differ between its two boundaries), and what the prompt-cache writes that followed cost against the
// same tokens read from the cache. Pure: events and prices in, a report out.
//
// Write tokens of a request: Anthropic's cache_creation_input_tokens; OpenAI's input tokens it did not read from the
// cache (it has no write of its own: an upper bound, the new turn included). A request changed by two hops counts at
// both. Usage is the innermost boundary's (what the provider said, before a hop could change it).
import type { MoatEvent } from '../../schemas/generated/event';
import { cachePrices, type PriceTable } from '../../hops/providers/prices';
import { prefixChanged } from '../../hops/providers/cache-prefix';
import { table } from './table';

export interface CacheHopRow {
  hop: number;
  hop_name: string;
  /** Provider requests with a prefix hash on both sides of the hop. */
  requests: number;
  prefix_changed: number;
  /** Of the requests whose prefix the hop changed: tokens written to the cache, and read from it. */
  cache_write_tokens: number;
  cache_read_tokens: number;
  /** What those writes cost, what they would have cost as reads, and the difference; absent when nothing is priced. */
  write_cost?: number;
  as_read_cost?: number;
  extra_cost?: number;
  /** Changed requests whose model has no price in prices: (left out of the costs). */
  unpriced: number;
}

export interface CacheReport {
  hops: CacheHopRow[];
}

type Facts = Record<string, unknown>;
const facts = (e?: MoatEvent): Facts | undefined => (e?.provider as Facts | undefined) ?? undefined;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

interface Usage {
  adapter: string;
  model?: string;
  write: number;
  read: number;
}

/** The provider's usage at the innermost response that has one. */
function usageOf(responses: Map<number, MoatEvent>, requests: Map<number, MoatEvent>): Usage | undefined {
  const boundaries = [...responses.keys()].sort((a, b) => b - a);
  for (const b of boundaries) {
    const f = facts(responses.get(b));
    if (!f || (f.input_tokens === undefined && f.cache_creation_input_tokens === undefined)) continue;
    const adapter = String(f.adapter ?? '');
    const read = num(f.cache_read_input_tokens);
    const write =
      adapter === 'anthropic-messages' ? num(f.cache_creation_input_tokens) : Math.max(0, num(f.input_tokens) - read);
    const model = typeof f.model === 'string' ? f.model : (facts(requests.get(b))?.model as string | undefined);
    return { adapter, model, write, read };
  }
  return undefined;
}

export function cacheReport(events: readonly MoatEvent[], prices: PriceTable): CacheReport {
  const traces = new Map<string, { requests: Map<number, MoatEvent>; responses: Map<number, MoatEvent> }>();
  for (const e of events) {
    if (!e.trace || (e.direction !== 'request' && e.direction !== 'response')) continue;
    const t = traces.get(e.trace) ?? { requests: new Map(), responses: new Map() };
    traces.set(e.trace, t);
    const side = e.direction === 'request' ? t.requests : t.responses;
    if (!side.has(e.boundary)) side.set(e.boundary, e); // a redelivery repeats one
  }
  const rows = new Map<number, CacheHopRow>();
  for (const t of traces.values()) {
    for (const [boundary, before] of t.requests) {
      const after = t.requests.get(boundary + 1);
      if (typeof facts(before)?.cache_prefix !== 'string' || typeof facts(after)?.cache_prefix !== 'string') continue;
      const row = rows.get(before.hop) ?? emptyRow(before.hop, before.hop_name);
      rows.set(before.hop, row);
      row.requests++;
      if (!prefixChanged(facts(before), facts(after))) continue;
      row.prefix_changed++;
      const usage = usageOf(t.responses, t.requests);
      if (!usage) continue;
      row.cache_write_tokens += usage.write;
      row.cache_read_tokens += usage.read;
      const price = cachePrices(prices, usage.model, usage.adapter);
      if (!price) {
        row.unpriced++;
        continue;
      }
      const write = (usage.write * price.write) / 1_000_000;
      const asRead = (usage.write * price.read) / 1_000_000;
      row.write_cost = (row.write_cost ?? 0) + write;
      row.as_read_cost = (row.as_read_cost ?? 0) + asRead;
      row.extra_cost = (row.extra_cost ?? 0) + write - asRead;
    }
  }
  return { hops: [...rows.values()].sort((a, b) => a.hop - b.hop) };
}

function emptyRow(hop: number, name: string): CacheHopRow {
  return {
    hop,
    hop_name: name,
    requests: 0,
    prefix_changed: 0,
    cache_write_tokens: 0,
    cache_read_tokens: 0,
    unpriced: 0,
  };
}

const money = (v?: number) => (v === undefined ? null : v.toFixed(6));

export function formatCacheReport(r: CacheReport): string {
  if (r.hops.length === 0)
    return 'no provider requests with a cacheable prefix in the ledger (Anthropic Messages and OpenAI APIs only)';
  const lines = [
    table(
      ['hop', 'name', 'requests', 'prefix changed', 'cache write tokens', 'cost of writes', 'as reads', 'extra'],
      r.hops.map((h) => [
        h.hop,
        h.hop_name,
        h.requests,
        h.prefix_changed,
        h.cache_write_tokens,
        money(h.write_cost),
        money(h.as_read_cost),
        money(h.extra_cost),
      ]),
    ),
  ];
  for (const h of r.hops.filter((x) => x.unpriced > 0))
    lines.push(`hop ${h.hop}: ${h.unpriced} request(s) of a model without a price in prices: are not in the costs`);
  lines.push(
    "(costs from prices:, per million tokens; cache_write / cache_read default to the provider's ratios to input)",
  );
  return lines.join('\n');
}
