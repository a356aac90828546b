// Server-Sent Events text to events: `event:` and `data:` lines, blank line between events. Pure.
// `any`: providers' SSE data is JSON read as it comes, field by field.
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface SseEvent {
  event?: string;
  data: string;
}

export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.replace(/\r\n/g, '\n').split('\n\n')) {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length) out.push({ event, data: data.join('\n') });
  }
  return out;
}

/** The JSON data of each event; events whose data is not JSON (e.g. [DONE]) are left out. */
export function sseJson(text: string): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (const e of parseSse(text)) {
    try {
      const v = JSON.parse(e.data);
      if (v && typeof v === 'object') out.push(v);
    } catch {
      // [DONE] and other non-JSON markers
    }
  }
  return out;
}
