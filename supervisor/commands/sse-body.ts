// A streamed (Server-Sent Events) response body as replay and bisect compare it: the events in order, each its
// `event:` name and its data (parsed when it is JSON), so the diff names what changed (`events[3].data.delta.text`,
// `-events[0].event`) instead of the text's length, and how the bytes were spread in time never counts. Pure.

export interface SseEvent {
  event?: string;
  id?: string;
  data: unknown;
}

const isSse = (contentType: unknown) =>
  (Array.isArray(contentType) ? contentType.join(',') : String(contentType ?? ''))
    .toLowerCase()
    .includes('event-stream');

/** The events of an SSE body; comments (`:`) and retry: lines left out, a last event without its blank line kept. */
export function sseEvents(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.replace(/\r\n?/g, '\n').split(/\n\n+/)) {
    const data: string[] = [];
    let event: string | undefined;
    let id: string | undefined;
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon === 0 || !line) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field === 'id') id = value;
    }
    if (!data.length && event === undefined) continue;
    const text = data.join('\n');
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON ([DONE], plain text): compared as text
    }
    events.push({ ...(event !== undefined ? { event } : {}), ...(id !== undefined ? { id } : {}), data: parsed });
  }
  return events;
}

/** The body to diff: an SSE body (by its content type) as the JSON of its events, anything else as it is. */
export function comparableBody(body: string, contentType: unknown): string {
  return isSse(contentType) ? JSON.stringify({ events: sseEvents(body) }) : body;
}
