// Spans of text and how masks are applied to them (pure). Shared by the DLP detectors and
// by capture redaction, so that both agree on which of two overlapping findings wins.

export interface Span {
  start: number;
  end: number;
}

export interface Mask extends Span {
  /** What the span is replaced by, e.g. `[REDACTED:aws_access_key]`. */
  marker: string;
}

/**
 * Sorted by start, without overlaps: the earliest span wins, then the longest; among equals
 * the one listed first (callers list their more specific findings first).
 */
export function nonOverlapping<T extends Span>(spans: readonly T[]): T[] {
  const sorted = spans
    .map((span, order) => ({ span, order }))
    .sort((a, b) => a.span.start - b.span.start || b.span.end - a.span.end || a.order - b.order);
  const kept: T[] = [];
  let reached = 0;
  for (const { span } of sorted) {
    if (span.start < reached) continue;
    kept.push(span);
    reached = span.end;
  }
  return kept;
}

/**
 * text[0, cut) with every mask that starts before the cut replaced by its marker, whole even
 * when it runs past the cut (so no prefix of a secret is left). Masks: sorted, non-overlapping.
 */
export function applyMasks(text: string, masks: readonly Mask[], cut = text.length): string {
  let out = '';
  let at = 0;
  for (const mask of masks) {
    if (mask.start >= cut) break;
    out += text.slice(at, mask.start) + mask.marker;
    at = mask.end;
  }
  return at < cut ? out + text.slice(at, cut) : out;
}
