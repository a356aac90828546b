// Reads the first bytes of a request body for a hop that decides on it (moat-policy), then
// gives back a stream that replays those bytes followed by the rest, for the forwarder.
import { PassThrough, type Readable } from 'node:stream';
import type { BodyPrefix } from './view';

/** Calls `done` once the body ended or passed `limit` bytes (the request is then paused). */
export function readPrefix(req: Readable, limit: number, done: (prefix: BodyPrefix) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (complete: boolean) => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    done({ bytes: Buffer.concat(chunks), complete });
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      req.pause();
      finish(false);
    }
  };
  const onEnd = () => finish(true);
  req.on('data', onData);
  req.once('end', onEnd);
}

/** The body to send on: the prefix already read, then whatever is still coming. */
export function replay(req: Readable, prefix: BodyPrefix): Readable {
  const out = new PassThrough();
  out.write(prefix.bytes);
  if (prefix.complete) out.end();
  else req.pipe(out);
  return out;
}
