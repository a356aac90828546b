// Reads a chain's ledger (read-only, while the writer appends) for the resilience checks: how many
// rows, which boundaries each trace reached, and the gap events that count dropped events.
import Database from 'better-sqlite3';

export interface LedgerView {
  rows: number;
  /** trace -> "boundary:direction" of each of its events. */
  byTrace: Map<string, Set<string>>;
  /** Gap events and the events they say were dropped. */
  gapEvents: number;
  dropped: number;
}

function query<T>(file: string, sql: string): Promise<T[]> {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 1000 });
    try {
      return Promise.resolve(db.prepare(sql).all() as T[]);
    } finally {
      db.close();
    }
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

export async function ledgerRows(file: string): Promise<number> {
  const [{ n }] = await query<{ n: number }>(file, 'SELECT COUNT(*) AS n FROM events');
  return n;
}

export async function readLedgerView(file: string): Promise<LedgerView> {
  const rows = await query<{ trace: string; boundary: number; direction: string }>(
    file,
    'SELECT trace, boundary, direction FROM events',
  );
  const gaps = await query<{ event: string }>(file, "SELECT event FROM events WHERE direction = 'gap'");
  const byTrace = new Map<string, Set<string>>();
  for (const r of rows) {
    let seen = byTrace.get(r.trace);
    if (!seen) byTrace.set(r.trace, (seen = new Set()));
    seen.add(`${r.boundary}:${r.direction}`);
  }
  const dropped = gaps.reduce((n, g) => n + Number(JSON.parse(g.event).gap ?? 0), 0);
  return { rows: rows.length, byTrace, gapEvents: gaps.length, dropped };
}

/** The "boundary:direction" pairs a trace that went all the way lacks (empty when complete). */
export function missingEvents(view: LedgerView, trace: string, boundaries: number): string[] {
  const seen = view.byTrace.get(trace) ?? new Set<string>();
  const missing: string[] = [];
  for (let b = 0; b < boundaries; b++)
    for (const d of ['request', 'response']) if (!seen.has(`${b}:${d}`)) missing.push(`${b}:${d}`);
  return missing;
}

/**
 * Polls until every trace has both events at every boundary (the writer has caught up), or until
 * timeoutMs; returns the view and the traces still incomplete then.
 */
export async function waitForTraces(
  file: string,
  traces: string[],
  boundaries: number,
  timeoutMs: number,
): Promise<{ view: LedgerView; incomplete: Map<string, string[]> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await readLedgerView(file);
    const incomplete = new Map<string, string[]>();
    for (const t of traces) {
      const missing = missingEvents(view, t, boundaries);
      if (missing.length) incomplete.set(t, missing);
    }
    if (incomplete.size === 0 || Date.now() > deadline) return { view, incomplete };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls the row count until it reaches `expected` or stops growing for `quietMs` (or timeoutMs passes). */
export async function waitForRows(file: string, expected: number, timeoutMs: number, quietMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const n = await ledgerRows(file);
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    }
    if (n >= expected || Date.now() > deadline || Date.now() - lastChange > quietMs) return n;
    await new Promise((r) => setTimeout(r, 250));
  }
}
