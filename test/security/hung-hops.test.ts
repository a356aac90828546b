// Invariant 3 of the threat model: a hop that is down or hung fails closed with an error naming it. A hop that
// stops answering (SIGSTOP here) used to hold every request sent to it with no timeout, no error and no restart;
// now the Moat process in front of it finds it hung within 10 s (health probes), fails what is in flight with 504
// hop_timeout naming it, fails new requests at once, and SIGKILLs it so that pm2 restarts it. A slow provider is
// no hung hop: a response that takes 15 s before its headers still arrives.
import { expect } from 'chai';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { timedRequest, type TimedResponse } from '../helpers/proxy-client';
import type { ProxyAgent } from 'undici';

const URL_MODELS = 'https://api.anthropic.com/v1/models';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resumes a stopped process if it still exists (a test that failed before the restart leaves it stopped). */
function resume(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // killed and restarted, as it should be
  }
}

/** Requests `url` in a loop on `workers` connections until stop() is called; every answer is kept. */
function lightLoad(agent: ProxyAgent, workers: number): { stop(): Promise<TimedResponse[]> } {
  let running = true;
  const answers: TimedResponse[] = [];
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      answers.push(await timedRequest(agent, `${URL_MODELS}?load=1`).catch((err) => ({ status: 0, headers: {}, body: String(err), headersAt: 0, chunks: [] })));
      await sleep(100);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** Polls until the chain process `name` runs with a pid other than `oldPid`; returns its status row. */
async function restarted(chain: CliChain, role: string, name: string, oldPid: number, withinMs: number): Promise<any> {
  const t0 = performance.now();
  for (;;) {
    const row = (await chain.status()).find((r) => r.name === name && r.role === role);
    if (row && row.pid && row.pid !== oldPid && row.state === 'online') return row;
    if (performance.now() - t0 > withinMs) throw new Error(`${name} was not restarted within ${withinMs} ms: ${JSON.stringify(row)}`);
    await sleep(300);
  }
}

/** Requests until one passes (200), within `withinMs`. */
async function passesAgain(agent: ProxyAgent, withinMs: number): Promise<TimedResponse> {
  const t0 = performance.now();
  for (;;) {
    const res = await timedRequest(agent, URL_MODELS);
    if (res.status === 200) return res;
    if (performance.now() - t0 > withinMs) throw new Error(`no 200 within ${withinMs} ms; last: ${res.status} ${res.body}`);
    await sleep(300);
  }
}

function expectHungAnswer(res: TimedResponse, hop: number, name: string): void {
  expect(res.status, res.body).to.equal(504);
  expect(res.headers['x-moat-error']).to.equal('hop_timeout');
  const body = JSON.parse(res.body);
  expect(body).to.include({ error: 'hop_timeout', hop, hop_name: name });
  expect(body.message).to.contain(`hop ${hop} (${name}) stopped answering`);
}

async function sigstopScenario(chain: CliChain, provider: FakeProvider, role: string, hop: number, name: string, track: (pid: number) => void): Promise<void> {
  const agent = await chain.agent();
  try {
    expect((await timedRequest(agent, URL_MODELS)).status).to.equal(200);
    const target = (await chain.status()).find((r) => r.name === name && r.role === role);
    expect(target, 'the hop is running').to.not.equal(undefined);
    const load = lightLoad(agent, 2);
    await sleep(500);

    process.kill(target.pid, 'SIGSTOP');
    track(target.pid);
    const seenAtStop = provider.seen.length;
    const t0 = performance.now();
    const inflight = await timedRequest(agent, `${URL_MODELS}?inflight=1`);
    const detectedMs = performance.now() - t0;
    expectHungAnswer(inflight, hop, name);
    expect(detectedMs, 'detected within ~10 s').to.be.below(12_000);

    // While it is held hung: a new request fails at once, naming it.
    const fast = await timedRequest(agent, `${URL_MODELS}?fast=1`);
    expectHungAnswer(fast, hop, name);
    expect(fast.headersAt, 'no waiting').to.be.below(1000);
    // Nothing of the failed requests reached the provider (the load's requests in flight at the stop may have).
    expect(provider.seen.slice(seenAtStop).filter((r) => /inflight|fast/.test(r.path))).to.deep.equal([]);

    // Restarted by pm2 (killed by the process in front of it), and requests pass again.
    const row = await restarted(chain, role, name, target.pid, 15_000);
    expect(row.restarts).to.be.at.least(1);
    await passesAgain(agent, 15_000);
    const answers = await load.stop();
    // Under the load: every answer was a 200, or the hop_timeout naming the hung hop (none waited for ever).
    const other = answers.filter((r) => r.status !== 200 && !(r.status === 504 && r.body.includes(`"hop_name":"${name}"`)));
    expect(other.map((r) => `${r.status} ${r.body}`)).to.deep.equal([]);
    expect(answers.some((r) => r.status === 200)).to.equal(true);
  } finally {
    await agent.close();
  }
}

describe('hung hops: a built-in hop that stops answering is failed, named and restarted', function () {
  this.timeout(120_000);
  let provider: FakeProvider;
  let stopped: number | undefined;
  const chain = new CliChain();

  before(async () => {
    provider = await new FakeProvider().start();
    chain.writeConfig(`proxies: [moat-telemetry, moat-policy]
${egressTo(provider.port)}
`);
    await chain.up();
  });

  after(async () => {
    resume(stopped);
    await chain.cleanup();
    await provider.stop();
  });

  it('a slow provider (15 s before its headers) is no hung hop: the 200 arrives', async () => {
    const agent = await chain.agent();
    try {
      const res = await timedRequest(agent, 'https://api.anthropic.com/slow?ms=15000');
      expect(res.status, res.body).to.equal(200);
      expect(res.body).to.contain('"slow":true');
      expect(res.headersAt).to.be.above(14_000);
    } finally {
      await agent.close();
    }
  });

  it('SIGSTOP of moat-policy under light load: 504 hop_timeout naming it within ~10 s, then fail-fast, restart, 200 again', async () => {
    await sigstopScenario(chain, provider, 'builtin', 2, 'moat-policy', (pid) => (stopped = pid));
  });
});

describe('hung hops: a third-party hop (tinyproxy) that stops answering is named, not the Moat process after it', function () {
  this.timeout(120_000);
  let provider: FakeProvider;
  let stopped: number | undefined;
  const chain = new CliChain();

  before(async () => {
    provider = await new FakeProvider().start();
    chain.writeConfig(`proxies: [moat-telemetry, tinyproxy, moat-policy]
${egressTo(provider.port)}
`);
    await chain.up();
  });

  after(async () => {
    resume(stopped);
    await chain.cleanup();
    await provider.stop();
  });

  it('SIGSTOP of tinyproxy: 504 hop_timeout naming tinyproxy, fail-fast, restarted, 200 again', async () => {
    await sigstopScenario(chain, provider, 'third-party', 2, 'tinyproxy', (pid) => (stopped = pid));
  });
});
