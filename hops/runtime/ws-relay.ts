// A WebSocket connection after its 101: bytes both ways between the client's socket and the one to the next process,
// with backpressure (pipe), each direction's chunks shown to the boundary's observer as they pass, and one report
// when both sides are gone. Frames are read on the side (hops/logic/ws-frame-reader.ts); a gate (moat-policy's DLP)
// may stand in the client's direction and hold a message until it has read it.
import type { Duplex, Transform } from 'node:stream';
import { bytesPassed } from './scavenge-hint';

export type ClosedBy = 'client' | 'server' | 'moat' | 'abort';

export interface RelayFacts {
  bytesUp: number;
  bytesDown: number;
  /** Who ended the connection first: a clean end of one side, else 'abort' (a reset, an error). */
  closedBy: ClosedBy;
}

export interface RelayHooks {
  onUp?(chunk: Buffer): void;
  onDown?(chunk: Buffer): void;
  onClosed(facts: RelayFacts): void;
}

export class WebSocketRelay {
  private bytesUp = 0;
  private bytesDown = 0;
  private closedBy?: ClosedBy;
  private reported = false;
  private clientGone = false;
  private serverGone = false;
  private gate?: Transform;

  constructor(
    private readonly client: Duplex,
    private readonly server: Duplex,
    private readonly hooks: RelayHooks,
  ) {}

  /**
   * `clientHead`: bytes the client sent after its handshake (to the server first); `serverHead`: bytes the server sent
   * after its 101 (to the client first). `gate`, when given, carries the client's bytes to the server.
   */
  start(clientHead: Buffer, serverHead: Buffer, gate?: Transform): void {
    const { client, server, hooks } = this;
    this.gate = gate;
    // Before any 'data' listener: the first one added would otherwise get these bytes alone, before the pipe.
    if (clientHead.length > 0) client.unshift(clientHead);
    client.on('data', (chunk: Buffer) => {
      this.bytesUp += chunk.length;
      bytesPassed.passed(chunk.length);
      hooks.onUp?.(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      this.bytesDown += chunk.length;
      bytesPassed.passed(chunk.length);
      hooks.onDown?.(chunk);
    });
    client.once('end', () => this.ended('client'));
    server.once('end', () => this.ended('server'));
    const gone = (side: 'client' | 'server') => () => {
      if (side === 'client') this.clientGone = true;
      else this.serverGone = true;
      this.closedBy ??= 'abort';
      // One side gone for good: the other is ended once what is on its way to it is written (a close frame), and
      // destroyed if it does not close by itself soon.
      finish(side === 'client' ? server : client);
      this.report();
    };
    client.once('close', gone('client'));
    server.once('close', gone('server'));
    client.on('error', () => client.destroy());
    server.on('error', () => server.destroy());
    if (serverHead.length > 0) {
      this.bytesDown += serverHead.length;
      hooks.onDown?.(serverHead);
      client.write(serverHead);
    }
    if (gate) client.pipe(gate).pipe(server);
    else client.pipe(server);
    server.pipe(client);
  }

  /** Moat ends the connection (a policy close): the frames given go out first, then both sides are closed. */
  close(toClient: Buffer | undefined, toServer: Buffer | undefined): void {
    this.closedBy ??= 'moat';
    this.client.unpipe();
    this.gate?.unpipe();
    this.server.unpipe();
    const end = (side: Duplex, last: Buffer | undefined) => {
      if (side.destroyed || side.writableEnded) return;
      if (last) side.end(last);
      else side.end();
      finish(side);
    };
    end(this.client, toClient);
    end(this.server, toServer);
  }

  private ended(side: 'client' | 'server'): void {
    this.closedBy ??= side;
  }

  private report(): void {
    if (this.reported || !this.clientGone || !this.serverGone) return;
    this.reported = true;
    this.hooks.onClosed({ bytesUp: this.bytesUp, bytesDown: this.bytesDown, closedBy: this.closedBy ?? 'abort' });
  }
}

/** How long a side that was ended may take to close before it is destroyed (a peer that never closes holds nothing). */
const LINGER_MS = 2000;

/** Ends `side` (its pending writes go out first) and destroys it if it has not closed within LINGER_MS. */
function finish(side: Duplex): void {
  if (side.destroyed) return;
  if (!side.writableEnded) side.end();
  setTimeout(() => side.destroy(), LINGER_MS).unref();
}
