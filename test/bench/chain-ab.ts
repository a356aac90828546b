// A quick A/B of the built-in chain, for trying one change against another back to back (the full `npm run bench`
// takes minutes): `node dist/test/bench/chain-ab.js [CHECKOUT] [SECONDS]` starts `proxies: [moat-telemetry,
// moat-policy]` from CHECKOUT (a built tree, by default this one), warms it for WARM_S seconds at c=32, then prints
// the c=1 p50 over C1 requests and, for SECONDS at c=32, the requests per second and every process's CPU per
// request (user and system, from /proc), at c=1 and at c=32. PROXIES (default "moat-telemetry, moat-policy") and
// WARM_S (5) and C1 (1000) may be set in the environment. Talks to 127.0.0.1 only.
import https from 'node:https';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TunnelAgent } from '../../hops/runtime/tunnel-agent';
import { REPO_ROOT } from '../helpers/repo-root';
import { cpuTimes, getModels } from './load';
import { startProvider } from './provider';

const CHECKOUT = process.argv[2] ?? REPO_ROOT;
const SECONDS = Number(process.argv[3] ?? 5);
const PROXIES = process.env.PROXIES ?? 'moat-telemetry, moat-policy';
const WARM_S = Number(process.env.WARM_S ?? 5);
const C1 = Number(process.env.C1 ?? 1000);
const HOST = 'api.anthropic.com';
const CONCURRENCY = 32;

interface Target {
  agent: https.Agent;
  connectTo: { host: string; port: number };
}

function moat(home: string, file: string, args: string[]): Promise<string> {
  const argv = [join(CHECKOUT, 'bin', 'moat'), 'chain', args[0], '-f', file, ...args.slice(1)];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, argv, { env: { ...process.env, MOAT_HOME: home }, timeout: 60_000 }, (err, out, e) =>
      err ? reject(new Error(`${out}${e}`)) : resolve(out),
    ),
  );
}

/** Runs `work`, then each process's CPU ms per request during it, as "total (u user s system)". */
async function perRequest(pids: Record<string, number>, work: () => Promise<number>): Promise<Record<string, string>> {
  const before = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, cpuTimes(p)]));
  const requests = await work();
  const out: Record<string, string> = {};
  for (const [n, p] of Object.entries(pids)) {
    const now = cpuTimes(p);
    const [u, s] = [(now.user - before[n].user) / requests, (now.system - before[n].system) / requests];
    out[n] = `${(u + s).toFixed(2)} (u ${u.toFixed(2)} s ${s.toFixed(2)})`;
  }
  return out;
}

async function loops(t: Target, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let n = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      await getModels(t);
      n++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return n;
}

async function main(): Promise<void> {
  const dir = mkdtempSync('/tmp/moat-ab-');
  const home = join(dir, 'h');
  const file = join(dir, 'moat.yaml');
  const { child: provider, port } = await startProvider(CHECKOUT);
  try {
    const ca = join(CHECKOUT, 'test', 'fixtures', 'provider-ca.crt');
    writeFileSync(
      file,
      `proxies: [${PROXIES}]\negress:\n  allow: [${HOST}]\n  resolve: {"${HOST}:443": "127.0.0.1:${port}"}\n` +
        `  extra_ca: ["${ca}"]\n`,
    );
    await moat(home, file, ['up', '-d']);
    const rows = JSON.parse(await moat(home, file, ['status', '--json'])) as { hop: number; port: number }[];
    const token = readFileSync(join(home, 'chains', 'default', 'token'), 'utf8').trim();
    const t: Target = {
      agent: new TunnelAgent({
        proxyHost: '127.0.0.1',
        proxyPort: rows.find((r) => r.hop === 0)!.port,
        proxyAuthorization: 'Basic ' + Buffer.from(`moat:${token}`).toString('base64'),
        secureContext: tls.createSecureContext({ ca: readFileSync(join(home, 'ca.crt'), 'utf8') }),
      }),
      connectTo: { host: HOST, port: 443 },
    };
    const named = rows as unknown as { name: string; pid: number | null }[];
    const pids: Record<string, number> = Object.fromEntries(named.filter((r) => r.pid).map((r) => [r.name, r.pid!]));
    await loops(t, WARM_S * 1000);
    const samples: number[] = [];
    const atC1 = await perRequest(pids, async () => {
      for (let i = 0; i < C1; i++) {
        const t0 = performance.now();
        await getModels(t);
        samples.push(performance.now() - t0);
      }
      return C1;
    });
    samples.sort((a, b) => a - b);
    let rps = 0;
    const atC32 = await perRequest(pids, async () => {
      const t0 = performance.now();
      const n = await loops(t, SECONDS * 1000);
      rps = n / ((performance.now() - t0) / 1000);
      return n;
    });
    console.log(JSON.stringify({ p50Ms: samples[Math.floor(C1 / 2)], rps: Math.round(rps), atC1, atC32 }, null, 1));
    t.agent.destroy();
  } finally {
    await moat(home, file, ['down']).catch(() => undefined);
    provider.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
