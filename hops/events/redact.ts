// Secrets never reach events, logs or tap output: credential header values are always
// replaced, DLP findings in other header values masked; in bodies DLP findings are masked in every
// capture mode (also when encoded: hops/dlp/decoded-views.ts), and in `redacted` capture the values
// of secret-named fields too.
import { DLP_LABELS, dlpMarker, findSecretsDecoded } from '../dlp';
import { applyMasks, nonOverlapping, type Mask } from '../dlp/spans';
import { preceded, tokenBoundary } from '../dlp/match';
import type { ReadOptions } from '../dlp/decoded-views';

export const REDACTED = '[REDACTED]';

/** Headers whose values are credentials, always redacted (besides those CREDENTIAL_HEADER_NAME matches). */
export const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'cookie',
  'set-cookie',
  'x-auth-token',
  'private-token',
  'x-amz-security-token',
  'x-csrf-token',
  'x-xsrf-token',
  'x-vault-token',
  // A replay's signed ask to skip a hop (hops/logic/replay-skip.ts): good once, and no record needs it.
  'x-moat-skip-hop',
]);

/**
 * Names that say the value is a credential, whatever the service: *token*, *secret*, *api-key* / *apikey*,
 * *password*, *passwd*, *signature*, *credential*, *session*, *auth* (x-auth-token, x-amz-security-token,
 * x-session-id, www-authenticate too). A wrong guess costs a value in a record, never traffic. Moat's own
 * x-moat-* headers (trace ids, replay marks) are read by name elsewhere and stay.
 */
export const CREDENTIAL_HEADER_NAME = /token|secret|api[-_]?key|passw(?:or)?d|signature|credential|session|auth/i;

/** Whether a header's value is replaced by [REDACTED] by its name alone. */
export function isCredentialHeader(name: string, extra: readonly string[] = []): boolean {
  const lower = name.toLowerCase();
  return (
    CREDENTIAL_HEADERS.has(lower) ||
    extra.includes(lower) ||
    (CREDENTIAL_HEADER_NAME.test(lower) && !lower.startsWith('x-moat-'))
  );
}

/**
 * Header names and values DLP read in full and found nothing in, per set of allowed values (a value is clean under
 * the grants' placeholders only because they are allowed). An agent sends the same dozen headers with every request,
 * and reading each one decoded three ways was most of what making an event cost (docs/benchmarks.md). Only what a
 * record shows verbatim anyway is kept; a value with a finding, or too long, is read again every time. Bounded: a
 * flood of distinct values empties it rather than growing it.
 */
const CLEAN_MAX_ENTRIES = 4096;
const CLEAN_MAX_LENGTH = 512;
const NO_PLACEHOLDERS: readonly string[] = Object.freeze([]);
const cleanByAllowed = new WeakMap<readonly string[], Set<string>>();

function cleanSet(allowed: readonly string[]): Set<string> {
  let clean = cleanByAllowed.get(allowed);
  if (!clean) cleanByAllowed.set(allowed, (clean = new Set()));
  return clean;
}

/** How many clean texts are held for a set of allowed values (tests: the bound holds). */
export function heldCleanHeaderTexts(allowed: readonly string[] = NO_PLACEHOLDERS): number {
  return cleanByAllowed.get(allowed.length === 0 ? NO_PLACEHOLDERS : allowed)?.size ?? 0;
}

/** text with what DLP finds masked, or undefined when DLP could not read it whole within its bounds. */
function maskedHeaderText(text: string, allowed: readonly string[], clean: Set<string>): string | undefined {
  if (clean.has(text)) return text;
  const read = findSecretsDecoded(text, DLP_LABELS, allowed);
  if (!read.complete) return undefined;
  if (read.findings.length === 0) {
    if (text.length <= CLEAN_MAX_LENGTH) {
      if (clean.size >= CLEAN_MAX_ENTRIES) clean.clear();
      clean.add(text);
    }
    return text;
  }
  return applyMasks(
    text,
    read.findings.map((f) => ({ ...f, marker: dlpMarker(f.label) })),
  );
}

/**
 * Header values as records show them: credential headers (by name) as [REDACTED], and in every
 * other value what a DLP detector finds, also encoded (percent, base64, JSON escapes), masked as
 * [REDACTED:<label>]. A value too deeply encoded to read within the bounds is [REDACTED] whole.
 * `allowed`: the grants' placeholders, which are no secrets.
 */
export function redactHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  extra: readonly string[] = [],
  allowed: readonly string[] = NO_PLACEHOLDERS,
): Record<string, string> {
  const clean = cleanSet(allowed.length === 0 ? NO_PLACEHOLDERS : allowed);
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    // A secret sent as a header's name: the name masked, the value with it.
    const maskedName = maskedHeaderText(lower, allowed, clean);
    if (maskedName !== lower) {
      out[maskedName ?? REDACTED] = REDACTED;
      continue;
    }
    if (isCredentialHeader(lower, extra)) {
      out[lower] = REDACTED;
      continue;
    }
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[lower] = maskedHeaderText(text, allowed, clean) ?? REDACTED;
  }
  return out;
}

// `api_key: value` style assignments (JSON fields, YAML, query strings, any case): in `redacted`
// capture their values are masked too, whatever they look like. Bounded, and anchored on the
// name, so that a scan stays linear in the body.
const SECRET_NAME = String.raw`(?:api[_-]?key|secret|password|passwd|token)`;
const SECRET_ASSIGNMENT = new RegExp(
  String.raw`${preceded(`${tokenBoundary('A-Za-z0-9_')}(?:[a-z0-9]{1,20}[_-]){0,3}`, SECRET_NAME)}` +
    String.raw`(?:\\?")?\s{0,8}[:=]\s{0,8}(?:\\?")?(?<secret>(?!\[REDACTED)[^"\\\s,}]{8,})`,
  'dgi',
);

export type BodyCapture = 'redacted' | 'full';

/**
 * What a captured body must not show: DLP findings in both modes (the product promises a matched
 * value never reaches the ledger, even in full capture), and in `redacted` also the values of
 * secret-named fields. Sorted, non-overlapping; a DLP label wins over the generic mask. `allowed`
 * values are no DLP findings (the grants' placeholders).
 */
export function bodyMasks(
  text: string,
  capture: BodyCapture,
  allowed: readonly string[] = [],
  options: ReadOptions = {},
): Mask[] {
  return bodyReading(text, capture, allowed, options).masks;
}

/** bodyMasks, and whether DLP could read the whole text within its bounds (callers keep no body when not). */
export function bodyReading(
  text: string,
  capture: BodyCapture,
  allowed: readonly string[] = [],
  options: ReadOptions = {},
): { masks: Mask[]; complete: boolean } {
  const read = findSecretsDecoded(text, DLP_LABELS, allowed, options);
  const masks: Mask[] = read.findings.map((f) => ({ ...f, marker: dlpMarker(f.label) }));
  if (capture === 'redacted') {
    for (const m of text.matchAll(SECRET_ASSIGNMENT)) {
      const [start, end] = m.indices!.groups!.secret;
      masks.push({ start, end, marker: REDACTED });
    }
  }
  return { masks: nonOverlapping(masks), complete: read.complete };
}

/** text as `redacted` capture shows it: DLP findings as `[REDACTED:<label>]`, secret-named values as `[REDACTED]`. */
export function redactSecrets(text: string): string {
  return applyMasks(text, bodyMasks(text, 'redacted'));
}
