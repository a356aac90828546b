// Four bare forwarders in series (the design's floor, test/bench/bare-forwarder.ts), sending with Node's https.request,
// with Moat's link client (hops/runtime/link-client.ts), or with it and serving without Node's http.Server (the three
// after the first; test/bench/lean-server.ts, a prototype), in turns, so the drift of this VM falls on both alike:
// `node dist/test/bench/link-floor.js` prints, per round and way, c=1 p50 over C1 requests, req/s at c=32 and each
// process's CPU per request, unpaced and held to RATE req/s. Environment: ROUNDS (3), RATE (1200), C1 (1000).
// Talks to 127.0.0.1 only.
import type { ChildProcess } from 'node:child_process';
import { cpuMs, getModels } from './load';
import { startProvider } from './provider';
import { startBareSeries } from './peers';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const RATE = Number(process.env.RATE ?? 1200);
const C1 = Number(process.env.C1 ?? 1000);

type Series = Awaited<ReturnType<typeof startBareSeries>>;

/** 32 loops for `ms`, starting requests on one schedule of `rate` per second (0: as fast as they go). */
async function window(s: Series, ms: number, rate: number): Promise<{ rps: number; cpu: number[] }> {
  const pids = s.children.map((c: ChildProcess) => c.pid!);
  const before = pids.map(cpuMs);
  const t0 = performance.now();
  const interval = rate ? 1000 / rate : 0;
  let nextAt = t0;
  let n = 0;
  const loop = async () => {
    while (performance.now() < t0 + ms) {
      if (interval) {
        const wait = nextAt - performance.now();
        nextAt = Math.max(nextAt, performance.now()) + interval;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await getModels(s);
      n++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, loop));
  const seconds = (performance.now() - t0) / 1000;
  return { rps: Math.round(n / seconds), cpu: pids.map((pid, i) => (cpuMs(pid) - before[i]) / n) };
}

async function p50(s: Series): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < C1; i++) {
    const t = performance.now();
    await getModels(s);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
  const provider = await startProvider();
  const ways = {
    node: await startBareSeries(provider.port, 4, false),
    link: await startBareSeries(provider.port, 4, true),
    // The three after the first also serve without Node's http.Server (test/bench/lean-server.ts).
    'lean server': await startBareSeries(provider.port, 4, 'server'),
  };
  try {
    for (const s of Object.values(ways)) await window(s, 5000, 0);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, s] of Object.entries(ways)) {
        const latency = await p50(s);
        const free = await window(s, 5000, 0);
        const held = await window(s, 5000, RATE);
        const ms = (cpu: number[]) => cpu.map((c) => c.toFixed(3)).join(' ');
        console.log(
          `round ${round} ${name}: c=1 p50 ${latency.toFixed(2)} ms; c=32 ${free.rps} req/s, CPU ms per request ${ms(free.cpu)}; ` +
            `held to ${held.rps} req/s: ${ms(held.cpu)}`,
        );
      }
    }
  } finally {
    for (const s of Object.values(ways)) {
      s.agent.destroy();
      for (const c of s.children) c.kill();
    }
    provider.child.kill();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
