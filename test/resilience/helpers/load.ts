// Load for the resilience suite: requests through a chain's ingress, each with a traceparent of its
// own, so every outcome can be looked up in the ledger by trace. Outcomes are kept, never thrown:
// the tests decide what a failure may look like.
import { randomBytes } from 'node:crypto';
import { request, type ProxyAgent } from 'undici';

export interface Outcome {
  trace: string;
  /** HTTP status, or 0 when the request got no response (connection error, reset, timeout). */
  status: number;
  /** x-moat-error of a failed response. */
  moatError?: string;
  body: string;
  /** The error of a request that got no response. */
  error?: string;
  /** performance.now() when the request was sent and when its response had ended. */
  startedAt: number;
  endedAt: number;
}

const REQUEST_TIMEOUT_MS = 15_000;

/** One GET through the agent; never throws. */
export async function send(agent: ProxyAgent, url: string): Promise<Outcome> {
  const trace = randomBytes(16).toString('hex');
  const startedAt = performance.now();
  try {
    const res = await request(url, {
      dispatcher: agent,
      headers: { traceparent: `00-${trace}-${randomBytes(8).toString('hex')}-01` },
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    const body = await res.body.text();
    const moatError = res.headers['x-moat-error'];
    return {
      trace,
      status: res.statusCode,
      body,
      startedAt,
      endedAt: performance.now(),
      ...(moatError ? { moatError: String(moatError) } : {}),
    };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { trace, status: 0, body: '', error: e.code ?? e.message, startedAt, endedAt: performance.now() };
  }
}

/** `total` requests, `concurrency` at a time. */
export async function sendMany(agent: ProxyAgent, url: string, total: number, concurrency: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        outcomes.push(await send(agent, url));
      }
    }),
  );
  return outcomes;
}

/**
 * Requests `concurrency` at a time until stop(). A loop whose request failed waits a little before
 * the next, so a dead hop is not hammered by a spinning client (the test measures recovery, not that).
 */
export class SteadyLoad {
  readonly outcomes: Outcome[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(agent: ProxyAgent, url: string, concurrency: number, pauseAfterFailureMs = 20) {
    this.loops = Array.from({ length: concurrency }, async () => {
      while (this.running) {
        const o = await send(agent, url);
        this.outcomes.push(o);
        if (o.status !== 200) await new Promise((r) => setTimeout(r, pauseAfterFailureMs));
      }
    });
  }

  /** Resolves once `count` more responses with status 200 have arrived after `since` (or after timeoutMs). */
  async okSince(since: number, count: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.outcomes.filter((o) => o.status === 200 && o.startedAt >= since).length >= count) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  async stop(): Promise<Outcome[]> {
    this.running = false;
    await Promise.all(this.loops);
    return this.outcomes;
  }
}
