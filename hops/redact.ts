// Secrets never reach events, logs or tap output: credential header values are always
// replaced; in bodies DLP findings are masked in every capture mode, and in `redacted` capture
// the values of secret-named fields too.
import { DLP_LABELS, dlpMarker, findSecrets } from './dlp';
import { applyMasks, nonOverlapping, type Mask } from './dlp/spans';
import { preceded, tokenBoundary } from './dlp/match';

export const REDACTED = '[REDACTED]';

/** Headers whose values are credentials, always redacted. */
export const CREDENTIAL_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie',
]);

export function redactHeaders(headers: Readonly<Record<string, string | string[] | undefined>>, extra: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    out[lower] = CREDENTIAL_HEADERS.has(lower) || extra.includes(lower) ? REDACTED : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

// `api_key: value` style assignments (JSON fields, YAML, query strings, any case): in `redacted`
// capture their values are masked too, whatever they look like. Bounded, and anchored on the
// name, so that a scan stays linear in the body.
const SECRET_NAME = String.raw`(?:api[_-]?key|secret|password|passwd|token)`;
const SECRET_ASSIGNMENT = new RegExp(
  String.raw`${preceded(`${tokenBoundary('A-Za-z0-9_')}(?:[a-z0-9]{1,20}[_-]){0,3}`, SECRET_NAME)}(?:\\?")?\s{0,8}[:=]\s{0,8}(?:\\?")?(?<secret>(?!\[REDACTED)[^"\\\s,}]{8,})`,
  'dgi',
);

export type BodyCapture = 'redacted' | 'full';

/**
 * What a captured body must not show: DLP findings in both modes (the product promises a matched
 * value never reaches the ledger, even in full capture), and in `redacted` also the values of
 * secret-named fields. Sorted, non-overlapping; a DLP label wins over the generic mask. `allowed`
 * values are no DLP findings (the grants' placeholders).
 */
export function bodyMasks(text: string, capture: BodyCapture, allowed: readonly string[] = []): Mask[] {
  const masks: Mask[] = findSecrets(text, DLP_LABELS, allowed).map((f) => ({ ...f, marker: dlpMarker(f.label) }));
  if (capture === 'redacted') {
    for (const m of text.matchAll(SECRET_ASSIGNMENT)) {
      const [start, end] = m.indices!.groups!.secret;
      masks.push({ start, end, marker: REDACTED });
    }
  }
  return nonOverlapping(masks);
}

/** text as `redacted` capture shows it: DLP findings as `[REDACTED:<label>]`, secret-named values as `[REDACTED]`. */
export function redactSecrets(text: string): string {
  return applyMasks(text, bodyMasks(text, 'redacted'));
}
