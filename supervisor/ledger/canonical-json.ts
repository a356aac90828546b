// JSON with object keys sorted at every level: the same event always hashes the same.
// JSON.stringify with an array of property names writes only those keys, in the array's
// order, at every level; given every key sorted, the native serializer does the work
// (the ledger writer runs this on every event, and a hand-written serializer was 3x slower).
export function canonicalJson(value: unknown): string {
  const keys = new Set<string>();
  collectKeys(value, keys);
  return JSON.stringify(value, [...keys].sort()) ?? 'null';
}

function collectKeys(value: unknown, keys: Set<string>): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) collectKeys(item, keys);
    return;
  }
  for (const key in value as Record<string, unknown>) {
    keys.add(key);
    collectKeys((value as Record<string, unknown>)[key], keys);
  }
}
