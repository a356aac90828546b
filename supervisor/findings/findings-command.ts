// `moat chain findings [--since DURATION] [--sarif FILE | --json]`: the chain's findings (finding.ts) read from its
// ledger, as a SARIF 2.1.0 file for code-scanning (sarif.ts), JSON lines for scripts, or a table for people.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryEvents, type LedgerLocation } from '../ledger/commands';
import { parseDuration } from '../commands/policy-learn-command';
import { table } from '../commands/table';
import { REPO_ROOT } from '../paths';
import { MoatError } from '../errors';
import { findingsOf, type Finding } from './finding';
import { toSarif } from './sarif';

/** The findings of the ledger, oldest first; with `since`, only those of the last DURATION. */
export async function ledgerFindings(layout: LedgerLocation, since?: string, now = Date.now()): Promise<Finding[]> {
  const from = since === undefined ? undefined : now - parseDuration(since);
  const events = await queryEvents(layout, {});
  return findingsOf(events).filter((f) => from === undefined || Date.parse(f.time) >= from);
}

export function findingsTable(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'no findings';
  return table(
    ['time', 'level', 'finding', 'hop', 'rule', 'request', 'trace'],
    findings.map((f) => [
      f.time,
      f.level,
      f.detectors ? `${f.code} (${f.detectors.join(', ')})` : f.code,
      `${f.hop} ${f.hop_name}`,
      f.rule ?? null,
      f.url ? `${f.method ?? ''} ${f.url}`.trim() : null,
      f.trace,
    ]),
  );
}

function moatVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** What the command prints (the SARIF file written when asked). */
export async function findingsCommand(
  layout: LedgerLocation,
  chain: string,
  o: { since?: string; sarif?: string; json: boolean },
): Promise<string> {
  if (o.sarif !== undefined && o.json)
    throw new MoatError('MOAT_ERR_USAGE', 'findings takes --sarif FILE or --json, not both');
  const findings = await ledgerFindings(layout, o.since);
  if (o.sarif !== undefined) {
    const log = toSarif(findings, { version: moatVersion(), chain });
    try {
      writeFileSync(o.sarif, JSON.stringify(log, null, 2) + '\n', { mode: 0o600 });
    } catch (err) {
      throw new MoatError('MOAT_ERR_FILE_UNWRITABLE', `${o.sarif}: ${(err as Error).message}`);
    }
    return `${o.sarif}: ${findings.length} finding(s), SARIF 2.1.0`;
  }
  if (o.json) return JSON.stringify(findings, null, 2);
  return findingsTable(findings);
}
