// Secrets never reach events, logs or tap output: credential header values are always
// replaced, DLP findings in other header values masked; in bodies DLP findings are masked in every
// capture mode (also when encoded: hops/dlp/decoded-views.ts), and in `redacted` capture the values
// of secret-named fields too.
import { DLP_LABELS, dlpMarker, findSecretsDecoded } from '../dlp';
import { applyMasks, nonOverlapping, type Mask } from '../dlp/spans';
import { preceded, tokenBoundary } from '../dlp/match';
import type { ReadOptions } from '../dlp/decoded-views';
import { carriesTraceOnly } from '../logic/trace';

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
 * Header values as records show them: credential headers (by name) as [REDACTED], and in every
 * other value what a DLP detector finds, also encoded (percent, base64, JSON escapes), masked as
 * [REDACTED:<label>]. A value too deeply encoded to read within the bounds is [REDACTED] whole.
 * `allowed`: the grants' placeholders, which are no secrets. `trace`: the request's trace, which its headers
 * x-moat-trace and traceparent may show as they are (carriesTraceOnly).
 */
export function redactHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  extra: readonly string[] = [],
  allowed: readonly string[] = [],
  trace?: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    // A secret sent as a header's name: the name masked, the value with it.
    const named = findSecretsDecoded(lower, DLP_LABELS, allowed);
    if (named.findings.length > 0 || !named.complete) {
      out[
        named.complete
          ? applyMasks(
              lower,
              named.findings.map((f) => ({ ...f, marker: dlpMarker(f.label) })),
            )
          : REDACTED
      ] = REDACTED;
      continue;
    }
    if (isCredentialHeader(lower, extra)) {
      out[lower] = REDACTED;
      continue;
    }
    if (trace !== undefined && carriesTraceOnly(lower, value, trace)) {
      out[lower] = value as string;
      continue;
    }
    const text = Array.isArray(value) ? value.join(', ') : value;
    const read = findSecretsDecoded(text, DLP_LABELS, allowed);
    out[lower] = !read.complete
      ? REDACTED
      : applyMasks(
          text,
          read.findings.map((f) => ({ ...f, marker: dlpMarker(f.label) })),
        );
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
