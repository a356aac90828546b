// Short temporary directories (pm2's unix sockets must stay under 108 bytes).
import { mkdtempSync, rmSync } from 'node:fs';

export function tmpDir(prefix = 'moat-t-'): { path: string; remove(): void } {
  const path = mkdtempSync(`/tmp/${prefix}`);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
