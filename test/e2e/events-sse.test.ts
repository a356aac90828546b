// An SSE response recorded in full at every boundary without delaying a single event: the
// client gets each event as the provider sends it, and the ledger then holds the whole stream
// with the SHA-256 of exactly the bytes the client received.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { request, type ProxyAgent } from 'undici';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';

const EVENTS = 10;
const INTERVAL_MS = 50;
const HOPS = 2;

interface SseArrival {
  /** Wall-clock ms the client had the whole event (same clock as the provider's `sent`: one process). */
  at: number;
  n: number;
  sent: number;
}

/** GETs an SSE stream and notes when each complete event arrived; keeps the exact bytes received. */
async function readSse(
  agent: ProxyAgent,
  url: string,
): Promise<{ status: number; headersAt: number; events: SseArrival[]; bytes: Buffer }> {
  const now = () => performance.timeOrigin + performance.now();
  const res = await request(url, { dispatcher: agent });
  const headersAt = now();
  const chunks: Buffer[] = [];
  const events: SseArrival[] = [];
  let pending = '';
  for await (const chunk of res.body) {
    const at = now();
    chunks.push(Buffer.from(chunk));
    pending += Buffer.from(chunk).toString('utf8');
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const data = JSON.parse(/^data: (.*)$/m.exec(pending.slice(0, end))![1]);
      events.push({ at, n: data.n, sent: data.sent });
      pending = pending.slice(end + 2);
    }
  }
  return { status: res.statusCode, headersAt, events, bytes: Buffer.concat(chunks) };
}

describe('events: an SSE response captured in full, no event delayed', function () {
  this.timeout(120_000);
  const { chain } = chainFixture({
    config: (provider) => `proxies:
  - moat-telemetry
  - moat-policy
capture:
  bodies: full
${egressTo(provider.port)}
`,
  });

  let received: Awaited<ReturnType<typeof readSse>>;

  it(`the client gets ${EVENTS} events ${INTERVAL_MS} ms apart, each as it is sent, none bunched`, async () => {
    const agent = await chain.agent();
    try {
      received = await readSse(agent, `https://api.anthropic.com/sse?events=${EVENTS}&interval=${INTERVAL_MS}`);
    } finally {
      await agent.close();
    }
    expect(received.status).to.equal(200);
    expect(received.events.map((e) => e.n)).to.deep.equal(Array.from({ length: EVENTS }, (_, i) => i + 1));
    // Margins for a slow 2-core VM; a chain that buffered would deliver events together (gaps near 0)
    // and the first one about EVENTS * INTERVAL_MS after the headers.
    const gaps = received.events.slice(1).map((e, i) => e.at - received.events[i].at);
    for (const gap of gaps) expect(gap, `gaps ${gaps.map((g) => g.toFixed(1)).join(', ')} ms`).to.be.at.least(30);
    expect(received.events[0].at - received.headersAt, 'first event after the headers').to.be.below(INTERVAL_MS + 150);
    const transit = received.events.map((e) => e.at - e.sent);
    for (const ms of transit)
      expect(ms, `provider to client: ${transit.map((t) => t.toFixed(1)).join(', ')} ms`).to.be.below(150);
  });

  it(
    'the ledger has the response at every boundary: streaming, ' + 'the whole body, the SHA-256 of the bytes received',
    async () => {
      expect(received, 'the stream of the previous test').to.not.equal(undefined);
      const text = received.bytes.toString('utf8');
      const sha256 = createHash('sha256').update(received.bytes).digest('hex');
      let events: any[] = [];
      for (let i = 0; i < 50 && events.length < 2 * (HOPS + 1); i++) {
        await new Promise((r) => setTimeout(r, 100));
        events = (await chain.events()).filter((e) => e.path === '/sse');
      }
      const trace = events[0]?.trace;
      expect(trace).to.match(/^[0-9a-f]{32}$/);
      expect(events.every((e) => e.trace === trace)).to.equal(true);
      const responses = events.filter((e) => e.direction === 'response').sort((a, b) => a.boundary - b.boundary);
      expect(responses.map((e) => e.boundary)).to.deep.equal(Array.from({ length: HOPS + 1 }, (_, b) => b));
      for (const e of responses) {
        const at = `boundary ${e.boundary}`;
        expect(e, at).to.deep.include({
          status: 200,
          streaming: true,
          content_type: 'text/event-stream',
          body_size: received.bytes.length,
          body_sha256: sha256,
        });
        expect(e.body, at).to.equal(text);
        expect(e.body_truncated, at).to.equal(undefined);
      }
      expect(
        events
          .filter((e) => e.direction === 'request')
          .map((e) => e.boundary)
          .sort(),
      ).to.deep.equal([0, 1, 2]);
    },
  );
});
