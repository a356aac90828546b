// How events travel on NATS: newline-delimited JSON, one event per line, one or more events per
// message. A Moat process sends its events in bursts, one JetStream message (and one ack) per burst:
// an ack round trip per event was two thirds of a link's CPU. A message with one event is one line,
// so single events (tests, other tools) read the same way. Pure.

/** A burst stays well under NATS's default max_payload (1 MiB); a single larger event still goes alone. */
export const MAX_BURST_BYTES = 256 * 1024;

export function encodeEvents(texts: readonly string[]): Uint8Array {
  return Buffer.from(texts.join('\n'));
}

/** Each line of a message, as published; empty lines are none. Parsing and checking are the reader's. */
export function eventLines(data: Uint8Array): string[] {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** The lines that parse as JSON, parsed (what is not JSON is dropped: anyone on the machine can publish to NATS). */
export function decodeEvents(data: Uint8Array): { text: string; value: unknown }[] {
  const out: { text: string; value: unknown }[] = [];
  for (const text of eventLines(data)) {
    try {
      out.push({ text, value: JSON.parse(text) });
    } catch {
      // not JSON: not an event
    }
  }
  return out;
}
