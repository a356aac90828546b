// An A/B of two built trees that this VM's drift cannot swamp: both chains (`proxies: [moat-telemetry, moat-policy]`
// by default) are up at once and take load in turns, SLICE_S seconds each at c=32, alternating for ROUNDS rounds, so a
// slow minute of the machine falls on both alike. `node dist/test/bench/chain-pair.js CHECKOUT_A CHECKOUT_B` prints,
// for each, the chain's CPU per request (every process of the chain, from /proc, the pm2 daemon included), its
// requests per second, each process's share, and the c=1 p50 over C1 requests taken in turns of 100. Environment:
// PROXIES, ROUNDS (10), SLICE_S (2), WARM_S (5), C1 (1000), NODE_A and NODE_B (the Node binary that runs each chain's
// CLI, and so its pm2 daemon and processes; this one by default). Talks to 127.0.0.1 only.
import https from 'node:https';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TunnelAgent } from '../../hops/runtime/tunnel-agent';
import { cpuMs, getModels } from './load';
import { startProvider } from './provider';

const PROXIES = process.env.PROXIES ?? 'moat-telemetry, moat-policy';
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const SLICE_S = Number(process.env.SLICE_S ?? 2);
const WARM_S = Number(process.env.WARM_S ?? 5);
const C1 = Number(process.env.C1 ?? 1000);
const HOST = 'api.anthropic.com';
const CONCURRENCY = 32;

interface Chain {
  label: string;
  checkout: string;
  home: string;
  file: string;
  agent: https.Agent;
  pids: Record<string, number>;
  cpu: Record<string, number>;
  requests: number;
  ms: number;
  c1: number[];
}

function moat(c: { label: string; checkout: string }, home: string, file: string, args: string[]): Promise<string> {
  const argv = [join(c.checkout, 'bin', 'moat'), 'chain', args[0], '-f', file, ...args.slice(1)];
  const node = process.env[`NODE_${c.label}`] || process.execPath;
  return new Promise((resolve, reject) =>
    execFile(node, argv, { env: { ...process.env, MOAT_HOME: home }, timeout: 60_000 }, (err, out, e) =>
      err ? reject(new Error(`${out}${e}`)) : resolve(out),
    ),
  );
}

async function loops(c: Chain, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let n = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      await getModels(c, c.label);
      n++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return n;
}

/** One slice of load on `c`, its processes' CPU and its requests added to its totals. */
async function slice(c: Chain): Promise<void> {
  const before = Object.fromEntries(Object.entries(c.pids).map(([n, p]) => [n, cpuMs(p)]));
  const t0 = performance.now();
  c.requests += await loops(c, SLICE_S * 1000);
  c.ms += performance.now() - t0;
  for (const [n, p] of Object.entries(c.pids)) c.cpu[n] = (c.cpu[n] ?? 0) + cpuMs(p) - before[n];
}

async function up(label: string, checkout: string, providerPort: number): Promise<Chain> {
  const dir = mkdtempSync(`/tmp/moat-pair-${label}-`);
  const home = join(dir, 'h');
  const file = join(dir, 'moat.yaml');
  const ca = join(checkout, 'test', 'fixtures', 'provider-ca.crt');
  writeFileSync(
    file,
    `proxies: [${PROXIES}]\negress:\n  allow: [${HOST}]\n  resolve: {"${HOST}:443": "127.0.0.1:${providerPort}"}\n` +
      `  extra_ca: ["${ca}"]\n`,
  );
  await moat({ label, checkout }, home, file, ['up', '-d']);
  const rows = JSON.parse(await moat({ label, checkout }, home, file, ['status', '--json'])) as {
    hop: number;
    port: number;
    name: string;
    pid: number | null;
  }[];
  const token = readFileSync(join(home, 'chains', 'default', 'token'), 'utf8').trim();
  const pm2Pid = Number(readFileSync(join(home, 'chains', 'default', 'pm2', 'pm2.pid'), 'utf8').trim());
  return {
    label,
    checkout,
    home,
    file,
    agent: new TunnelAgent({
      proxyHost: '127.0.0.1',
      proxyPort: rows.find((r) => r.hop === 0)!.port,
      proxyAuthorization: 'Basic ' + Buffer.from(`moat:${token}`).toString('base64'),
      secureContext: tls.createSecureContext({ ca: readFileSync(join(home, 'ca.crt'), 'utf8') }),
    }),
    pids: {
      ...Object.fromEntries(rows.filter((r) => r.pid).map((r) => [r.name, r.pid!])),
      'pm2 daemon': pm2Pid,
    },
    cpu: {},
    requests: 0,
    ms: 0,
    c1: [],
  };
}

function report(c: Chain): string {
  const total = Object.values(c.cpu).reduce((a, b) => a + b, 0) / c.requests;
  const parts = Object.entries(c.cpu)
    .map(([n, ms]) => `${n.replace('moat-', '')} ${(ms / c.requests).toFixed(2)}`)
    .join(', ');
  const sorted = [...c.c1].sort((a, b) => a - b);
  const p50 = sorted[Math.floor(sorted.length / 2)];
  return (
    `${c.label}: CPU ${total.toFixed(2)} ms per request, ${Math.round(c.requests / (c.ms / 1000))} req/s at c=32, ` +
    `c=1 p50 ${p50.toFixed(2)} ms (${c.checkout})\n  ${parts}`
  );
}

async function main(): Promise<void> {
  const [a, b] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: chain-pair.js CHECKOUT_A CHECKOUT_B');
  const { child: provider, port } = await startProvider(a);
  const chains: Chain[] = [];
  try {
    // One at a time: a chain that is up is stopped below even when the other fails to start.
    chains.push(await up('A', a, port));
    chains.push(await up('B', b, port));
    for (const c of chains) await loops(c, WARM_S * 1000);
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first, so neither always follows the other's load.
      for (const c of r % 2 === 0 ? chains : [...chains].reverse()) await slice(c);
    }
    for (let r = 0; r < C1 / 100; r++) {
      for (const c of chains) {
        for (let i = 0; i < 100; i++) {
          const t0 = performance.now();
          await getModels(c, c.label);
          c.c1.push(performance.now() - t0);
        }
      }
    }
    for (const c of chains) console.log(report(c));
  } finally {
    for (const c of chains) {
      c.agent.destroy();
      await moat(c, c.home, c.file, ['down']).catch(() => undefined);
      rmSync(join(c.home, '..'), { recursive: true, force: true });
    }
    provider.kill();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
