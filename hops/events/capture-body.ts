// The body text an event carries (pure): secrets masked, then cut at capture.max_body_bytes.
// Masking comes first and sees past the cut, so that a secret straddling the cut is replaced
// whole instead of leaving its first characters in the event.
import { DLP_LOOKAHEAD } from '../dlp';
import { applyMasks } from '../dlp/spans';
import { bodyReading, type BodyCapture } from './redact';
import type { ReadOptions } from '../dlp/decoded-views';

/** What an event shows for a body DLP could not read within its bounds (hops/dlp/decoded-views.ts). */
export const UNREADABLE_BODY = '[NOT CAPTURED: encoded beyond what DLP reads]';

/** Bytes a tap keeps past the capture limit: DLP_LOOKAHEAD characters of any UTF-8 text. */
export const LOOKAHEAD_BYTES = 4 * DLP_LOOKAHEAD;

/** How many leading UTF-16 units of `text` fit in `bytes` of UTF-8, never splitting a character. */
export function charsWithinBytes(text: string, bytes: number): number {
  let used = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const pair = unit >= 0xd800 && unit < 0xdc00 && i + 1 < text.length;
    const size = unit < 0x80 ? 1 : unit < 0x800 ? 2 : pair ? 4 : 3;
    if (used + size > bytes) return i;
    used += size;
    if (pair) i++;
  }
  return text.length;
}

// Characters that end a word for the last-word rule below: a secret never spans them but for
// quoted .env values with spaces, which lose only what follows the space.
const WORD_END = /[\s"'`,;]/;

/** Where the trailing word of text[0, cut) starts (at most DLP_LOOKAHEAD characters back). */
function lastWordStart(text: string, cut: number): number {
  let at = cut;
  while (at > 0 && cut - at < DLP_LOOKAHEAD && !WORD_END.test(text[at - 1])) at--;
  return at;
}

/**
 * The body as an event shows it.
 * @param kept the body's start as the tap kept it: up to the limit and LOOKAHEAD_BYTES past it
 * @param limitBytes capture.max_body_bytes
 * @param more whether the body goes on past `kept`
 * @param allowed values DLP leaves alone (the grants' placeholders)
 */
export function capturedBody(
  kept: string,
  limitBytes: number,
  capture: BodyCapture,
  more: boolean,
  allowed: readonly string[] = [],
  options: ReadOptions = {},
): string {
  let cut = charsWithinBytes(kept, limitBytes);
  // Too little past the cut was kept to recognise a secret that starts in the last word before
  // it: that word is dropped rather than shown.
  if (more && kept.length - cut < DLP_LOOKAHEAD) cut = lastWordStart(kept, cut);
  const seen = kept.slice(0, cut + DLP_LOOKAHEAD);
  const read = bodyReading(seen, capture, allowed, options);
  // Encoded deeper or more often than DLP reads within its bounds: no body rather than an unread one.
  if (!read.complete) return UNREADABLE_BODY;
  return applyMasks(seen, read.masks, cut);
}
