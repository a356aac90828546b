// Watches a body go by: its size and SHA-256 over every byte, and a copy of at most
// `limit` bytes for capture. Never holds more than the limit, whatever the body's size.
import { createHash, type Hash } from 'node:crypto';
import type { SseWatch } from '../providers/sse-watch';

/** SHA-256 of no bytes: most requests (GET, HEAD, a WebSocket's handshake) have no body, and need no hash made. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export class BodyTap {
  size = 0;
  /** Made at the first byte; each one is a call into OpenSSL, and an event's digest another two. */
  private hash?: Hash;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  /** Set for an SSE response that is recorded: its stream health, each chunk timed as it passes. */
  sse?: SseWatch;

  /** Without `hashed` (no events recorded) it only counts bytes. */
  constructor(
    private readonly limit: number,
    private readonly hashed = true,
  ) {}

  push(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.hashed && chunk.length > 0) (this.hash ??= createHash('sha256')).update(chunk);
    this.sse?.push(chunk, performance.now());
    if (this.keptBytes < this.limit) {
      const part = chunk.subarray(0, this.limit - this.keptBytes);
      this.kept.push(part);
      this.keptBytes += part.length;
    }
  }

  get truncated(): boolean {
    return this.size > this.keptBytes;
  }

  /** Whether the first `limit` bytes are less than the whole body. */
  truncatedAt(limit: number): boolean {
    return this.size > Math.min(this.keptBytes, limit);
  }

  sha256(): string {
    if (!this.hashed) return '';
    return this.hash ? this.hash.copy().digest('hex') : EMPTY_SHA256;
  }

  /** The copy, as bytes. */
  bytes(): Buffer {
    return Buffer.concat(this.kept);
  }

  /** The copy (or its first `limit` bytes) as UTF-8. */
  text(limit = Infinity): string {
    const all = Buffer.concat(this.kept);
    return (limit < all.length ? all.subarray(0, limit) : all).toString('utf8');
  }
}
