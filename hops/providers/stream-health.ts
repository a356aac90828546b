// What one hop did to a Server-Sent Events stream, from the stream health recorded on its two boundaries: what it got
// (the boundary after it, `input`) and what it sent back (the boundary in front of it, `output`). Pure.
import type { StreamHealth } from './sse-watch';

export interface HopStream {
  /** Events the hop got from upstream (in) and sent back to its client (out). */
  events: { in: number; out: number };
  /** How much later the first event reached the hop's client than it reached the hop (its request time included). */
  addedFirstMs?: number;
  /** The largest gap between events the hop's client saw, and the one the hop itself got. */
  largestGapMs: { in: number; out: number };
  /** Set when the hop held events back and sent them together: how long it held them. */
  buffered?: { heldMs: number };
  /** What the hop changed in the stream, in words (events dropped, reordered, `event:` lines lost, ...). */
  changes: string[];
}

/** A hold shorter than this is ordinary scheduling. */
export const BUFFER_MIN_MS = 25;

const span = (h: StreamHealth) =>
  h.first_event_ms !== undefined && h.last_event_ms !== undefined ? h.last_event_ms - h.first_event_ms : 0;

/**
 * Buffering: the hop's client got the events closer together than the hop did (the stream's span shrank by at least
 * half), or after a pause longer than any the hop got (twice its largest gap) followed by events in a burst.
 */
function heldMs(input: StreamHealth, output: StreamHealth): number | undefined {
  if (output.events < 2 || input.events < 2) return undefined;
  const squeezed = span(input) - span(output);
  if (squeezed >= Math.max(BUFFER_MIN_MS, span(input) / 2)) return squeezed;
  const paused = output.max_gap_ms - input.max_gap_ms;
  if (paused >= Math.max(BUFFER_MIN_MS, input.max_gap_ms) && output.bunched > input.bunched) return paused;
  return undefined;
}

function changes(input: StreamHealth, output: StreamHealth): string[] {
  const out: string[] = [];
  if (output.events < input.events) out.push(`${input.events - output.events} event(s) dropped`);
  if (output.events > input.events) out.push(`${output.events - input.events} event(s) added`);
  if (output.events === input.events && output.sequence !== input.sequence)
    out.push(output.content === input.content ? 'events reordered' : 'events rewritten');
  // Lines of dropped events do not count twice.
  if (input.event_lines - output.event_lines > Math.max(0, input.events - output.events))
    out.push(`event: lines lost (${input.event_lines} -> ${output.event_lines})`);
  if (input.final && !output.final) out.push('stream ended without its final event');
  return out;
}

export function hopStream(input: StreamHealth, output: StreamHealth): HopStream {
  const held = heldMs(input, output);
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    events: { in: input.events, out: output.events },
    ...(output.first_event_ms !== undefined && input.first_event_ms !== undefined
      ? { addedFirstMs: round(output.first_event_ms - input.first_event_ms) }
      : {}),
    largestGapMs: { in: input.max_gap_ms, out: output.max_gap_ms },
    ...(held !== undefined ? { buffered: { heldMs: round(held) } } : {}),
    changes: changes(input, output),
  };
}

/** The stream health of an event, when it has one of the right shape (the ledger is read back as JSON). */
export function streamOf(event: { stream?: unknown } | undefined): StreamHealth | undefined {
  const s = event?.stream as StreamHealth | undefined;
  return s && typeof s === 'object' && typeof s.events === 'number' && typeof s.sequence === 'string' ? s : undefined;
}
