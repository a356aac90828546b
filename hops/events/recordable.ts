// The one recordable form of a request's target and headers: what events, the ledger, tap, the
// dashboard and every log line may show of a path and a header map. The query is dropped (it
// may hold keys: Gemini's ?key=); what a DLP detector finds in the path, read also decoded
// (a key-shaped segment, a Slack webhook's path, a %-encoded or base64 key), is masked; headers
// go through redactHeaders (credential names, then DLP on every other value). Pure.
import { DLP_LABELS, dlpMarker, findSecretsDecoded } from '../dlp';
import { applyMasks } from '../dlp/spans';
import { redactHeaders } from './redact';
import { pathOnly, type Headers } from '../logic/view';

/** What a record shows for a path DLP could not read within its bounds. */
export const UNREADABLE_PATH = '/[REDACTED:unreadable]';

/** The path without its query, secrets masked. `allowed`: the grants' placeholders (no secrets). */
export function recordablePath(path: string, allowed: readonly string[] = []): string {
  const bare = pathOnly(path);
  const read = findSecretsDecoded(bare, DLP_LABELS, allowed);
  if (!read.complete) return UNREADABLE_PATH;
  return applyMasks(
    bare,
    read.findings.map((f) => ({ ...f, marker: dlpMarker(f.label) })),
  );
}

export interface RecordingRules {
  /** Credential header names besides the usual ones (generic grants'). */
  redactHeaders?: readonly string[];
  /** The grants' placeholders: key-shaped on purpose, no secret. */
  placeholders?: readonly string[];
}

/** A header map as records show it; `trace`: the request's trace, which the record shows in a field of its own. */
export function recordableHeaders(
  headers: Headers,
  rules: RecordingRules = {},
  trace?: string,
): Record<string, string> {
  return redactHeaders(headers, rules.redactHeaders, rules.placeholders, trace);
}

/** A request line for a log: `METHOD host/path`, the path as records show it. */
export function recordableTarget(
  view: { method: string; host: string; path: string },
  allowed: readonly string[] = [],
): string {
  return `${view.method} ${view.host}${recordablePath(view.path, allowed)}`;
}
