// Watches a body go by: its size and SHA-256 over every byte, and a copy of at most
// `limit` bytes for capture. Never holds more than the limit, whatever the body's size.
import { createHash, type Hash } from 'node:crypto';

export class BodyTap {
  size = 0;
  private readonly hash?: Hash;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;

  /** Without `hashed` (no events recorded) it only counts bytes. */
  constructor(private readonly limit: number, hashed = true) {
    if (hashed) this.hash = createHash('sha256');
  }

  push(chunk: Buffer): void {
    this.size += chunk.length;
    this.hash?.update(chunk);
    if (this.keptBytes < this.limit) {
      const part = chunk.subarray(0, this.limit - this.keptBytes);
      this.kept.push(part);
      this.keptBytes += part.length;
    }
  }

  get truncated(): boolean {
    return this.size > this.keptBytes;
  }

  sha256(): string {
    return this.hash ? this.hash.copy().digest('hex') : '';
  }

  text(): string {
    return Buffer.concat(this.kept).toString('utf8');
  }
}
