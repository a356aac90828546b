// /_/api/live: Server-Sent Events to every open page. Each new event goes out twice: as `request`,
// the updated row of its request (what the page shows), and as `event`, the event itself (for
// scripts), each only to clients whose filter it fits.
import type { ServerResponse } from 'node:http';
import type { MoatEvent } from '../../schemas/generated/event';
import { matchesEvent, matchesRequest, type Filter, type RequestRow } from './stats';

const HEARTBEAT_MS = 15_000;
// A page that stopped reading is dropped rather than letting its backlog grow without end.
const MAX_BACKLOG_BYTES = 4 << 20;

/** One SSE message; a JSON text never contains a bare newline, so one data line suffices. */
export function sseMessage(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class LiveHub {
  private readonly clients = new Map<ServerResponse, Filter>();
  private readonly heartbeat = setInterval(() => this.sendAll(': ping\n\n'), HEARTBEAT_MS);

  constructor() {
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  open(res: ServerResponse, filter: Filter): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The page learns the stream is live (and when it reconnects, it knows to reload the list).
    res.write(`retry: 2000\n${sseMessage('hello', { time: new Date().toISOString() })}`);
    this.clients.set(res, filter);
    res.on('close', () => this.clients.delete(res));
  }

  publish(event: MoatEvent, row: RequestRow | undefined): void {
    for (const [res, filter] of this.clients) {
      if (row && matchesRequest(row, filter)) this.send(res, sseMessage('request', row));
      if (matchesEvent(event, filter)) this.send(res, sseMessage('event', event));
    }
  }

  private sendAll(text: string): void {
    for (const res of this.clients.keys()) this.send(res, text);
  }

  private send(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_BACKLOG_BYTES) {
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }
}
