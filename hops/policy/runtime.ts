// moat-policy's I/O: the spent-budget book on disk (so a restart does not reset budgets) and
// reloading the policy when moat.yaml changes (no restart; requests in flight keep their verdict).
import { existsSync, readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { writeFileAtomic } from '../runtime/atomic-write';
import { PolicyEngine, type PolicySettings } from './engine';
import { UsageBook } from './usage-book';
import { zonedTime } from './zoned-time';
import { findSecretsDecoded, type DlpLabel } from '../dlp';

export interface PolicyRuntime {
  engine: PolicyEngine;
  saveUsage(): void;
  close(): void;
}

const RELOAD_POLL_MS = 250;

/** Reads moat.yaml's policy: section as moat-policy runs it; throws with file:line:column on an invalid file. */
export type PolicyReader = (configFile: string) => PolicySettings;

/**
 * readPolicy: how moat.yaml is read again when it changes (the supervisor's loader, handed in by the process entry);
 * none: no reload.
 */
export function startPolicy(
  o: { settings: PolicySettings; configFile: string; usageFile: string; placeholders?: string[] },
  log: (line: string) => void,
  readPolicy?: PolicyReader,
): PolicyRuntime {
  const usage = new UsageBook(readUsage(o.usageFile, log));
  const placeholders = o.placeholders ?? [];
  const scan = (text: string, labels?: readonly string[], options?: { form?: boolean }) =>
    findSecretsDecoded(text, labels as DlpLabel[] | undefined, placeholders, options);
  const engine = new PolicyEngine(o.settings, { now: Date.now, scan, usage });

  const saveUsage = () => {
    // Keep two days back: budgets are per day in their own time zones.
    usage.forgetBefore(zonedTime(Date.now() - 2 * 86_400_000, 'UTC').date);
    try {
      writeFileAtomic(o.usageFile, Buffer.from(JSON.stringify(usage.snapshot())), { overwrite: true, mode: 0o600 });
    } catch (err) {
      log(`moat-policy: cannot save spent budgets to ${o.usageFile}: ${(err as Error).message}`);
    }
  };

  // Polling, not fs.watch: editors save by renaming a new file over the old one, which an inotify watch on the
  // old file misses. A quarter second is far below anyone's edit-and-retry loop.
  const onChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
    if (!existsSync(o.configFile) || !readPolicy) return;
    try {
      engine.update(readPolicy(o.configFile));
      log(`moat-policy: reloaded ${o.configFile}: ${engine.current.rules.length} rule(s), mode ${engine.current.mode}`);
    } catch (err) {
      log(
        `moat-policy: ${o.configFile} changed but is not valid; the policy in force stays: ${(err as Error).message}`,
      );
    }
  };
  watchFile(o.configFile, { interval: RELOAD_POLL_MS }, onChange);
  return { engine, saveUsage, close: () => unwatchFile(o.configFile, onChange) };
}

function readUsage(file: string, log: (line: string) => void) {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    log(`moat-policy: ${file} is unreadable (${(err as Error).message}); budgets start from zero`);
    return {};
  }
}
