// The body moat-policy read before deciding, sent on (hops/runtime/body-prefix.ts): the same bytes, then the rest,
// and never the whole prefix queued at once.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { readPrefix, replay } from '../../../../hops/runtime/body-prefix';

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks;
}

describe('body prefix and replay', () => {
  it('reads up to the limit, then replays exactly the prefix followed by the rest', async () => {
    const body = randomBytes(300_000);
    const req = new PassThrough();
    const prefix = await new Promise<{ bytes: Buffer; complete: boolean }>((resolve) => {
      readPrefix(req, 100_000, resolve);
      for (let i = 0; i < body.length; i += 50_000) req.write(body.subarray(i, i + 50_000));
      req.end();
    });
    expect(prefix.complete).to.equal(false);
    expect(prefix.bytes.length).to.be.greaterThan(100_000);
    expect(prefix.bytes).to.deep.equal(body.subarray(0, prefix.bytes.length));
    const out = await drain(replay(req, prefix));
    expect(Buffer.concat(out)).to.deep.equal(body);
  });

  it('a whole body read before deciding goes on as it was, and ends', async () => {
    const body = randomBytes(200_000);
    const out = await drain(replay(new PassThrough(), { bytes: body, complete: true }));
    expect(Buffer.concat(out)).to.deep.equal(body);
  });

  it(
    'hands the prefix over as it is taken: an 8 MiB prefix ' + 'is not all queued for a reader that has not read',
    async () => {
      const prefix = { bytes: Buffer.alloc(8 << 20, 1), complete: true };
      const out = replay(new PassThrough(), prefix);
      await new Promise((r) => setImmediate(r));
      expect(out.readableLength + (out as PassThrough).writableLength).to.be.at.most(2 * 64 * 1024);
      const all = await drain(out);
      expect(all.reduce((n, c) => n + c.length, 0)).to.equal(8 << 20);
    },
  );
});
