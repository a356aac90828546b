// Reads the first bytes of a request body for a hop that decides on it (moat-policy), then
// gives back a stream that replays those bytes followed by the rest, for the forwarder.
import { PassThrough, type Readable } from 'node:stream';
import type { BodyPrefix } from '../logic/view';

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
    const bytes = Buffer.concat(chunks, size);
    // The chunks are copied: let them go before the hop reads the copy (8 MiB less held while moat-policy scans).
    chunks.length = 0;
    done({ bytes, complete });
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

const REPLAY_SLICE_BYTES = 64 * 1024;

/**
 * The body to send on: the prefix already read, then whatever is still coming. The prefix goes in slices, as
 * the socket delivered it, each when the last has been taken: written at once, all of it (up to 8 MiB) was
 * encrypted and queued by the TLS socket to the next process, held twice until the kernel took it.
 */
export function replay(req: Readable, prefix: BodyPrefix): Readable {
  const out = new PassThrough();
  let offset = 0;
  const feed = () => {
    while (offset < prefix.bytes.length) {
      const slice = prefix.bytes.subarray(offset, offset + REPLAY_SLICE_BYTES);
      offset += slice.length;
      if (!out.write(slice)) return void out.once('drain', feed);
    }
    if (prefix.complete) out.end();
    else req.pipe(out);
  };
  feed();
  return out;
}
