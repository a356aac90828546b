// Node's Agent, under `scheduling: 'lifo'` (every pool of ours), hands a request the newest free socket, but skips
// destroyed ones only at the front of its list. A free socket its idle timer has just destroyed stays on the list until
// its 'close', a turn later; a request made in between is handed it and fails as "socket hang up" (ECONNRESET), a 502
// nobody caused. The link client has the same rule of its own (hops/runtime/link-client.ts, LinkPool.take).
import type http from 'node:http';

type FreeSockets = Record<string, { destroyed: boolean }[] | undefined>;

/** `agent`, made to take destroyed sockets off its free lists before it picks one for a request. */
export function withLiveFreeSockets<T extends http.Agent>(agent: T): T {
  const pool = agent as unknown as { addRequest(...args: unknown[]): unknown; freeSockets: FreeSockets };
  const addRequest = pool.addRequest;
  pool.addRequest = function (this: typeof pool, ...args: unknown[]) {
    dropDestroyed(this.freeSockets);
    return addRequest.apply(this, args);
  };
  return agent;
}

/** Takes destroyed sockets off every free list (an emptied list is removed, as the Agent removes it). */
function dropDestroyed(freeSockets: FreeSockets): void {
  for (const name of Object.keys(freeSockets)) {
    const list = freeSockets[name]!;
    for (let i = list.length - 1; i >= 0; i--) if (list[i].destroyed) list.splice(i, 1);
    if (list.length === 0) delete freeSockets[name];
  }
}
