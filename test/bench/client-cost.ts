// What the next-hop client costs a Moat process: Node's https.request through a keep-alive agent (what http-proxy
// uses) against undici's Pool, each sending 5000 GETs at c=32 to the fake provider over TLS, three rounds, this
// process's CPU per request. `node dist/test/bench/client-cost.js`. Talks to 127.0.0.1 only.
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { REPO_ROOT } from '../helpers/repo-root';
import { startProvider } from './provider';

const REQUESTS = 5000;
const CONCURRENCY = 32;
const HOST = 'api.anthropic.com';

async function cost(name: string, send: () => Promise<void>): Promise<string> {
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const loop = async () => {
    while (sent++ < REQUESTS) await send();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  const cpu = process.cpuUsage(cpu0);
  const perRequest = (cpu.user + cpu.system) / 1000 / REQUESTS;
  return `${name} ${perRequest.toFixed(3)} ms CPU/request, ${Math.round(REQUESTS / ((performance.now() - t0) / 1000))} req/s`;
}

async function main(): Promise<void> {
  const { child: provider, port } = await startProvider();
  try {
    const ca = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'provider-ca.crt'));
    const agent = new https.Agent({ keepAlive: true, secureContext: tls.createSecureContext({ ca }) });
    const viaNode = () =>
      new Promise<void>((resolve, reject) => {
        const options = {
          host: '127.0.0.1',
          port,
          servername: HOST,
          path: '/v1/models',
          agent,
          headers: { host: HOST },
        };
        const req = https.request(options, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    const pool = new Pool(`https://127.0.0.1:${port}`, { connect: { ca, servername: HOST }, connections: 64 });
    const viaUndici = async () => {
      const res = await pool.request({ path: '/v1/models', method: 'GET', headers: { host: HOST } });
      await res.body.dump();
    };
    for (let round = 1; round <= 3; round++)
      console.log(`round ${round}: ${await cost('https.request', viaNode)}; ${await cost('undici Pool', viaUndici)}`);
    agent.destroy();
    await pool.close();
  } finally {
    provider.kill();
  }
}

void main();
