// The proxies the chain is compared with, each started as its own process on 127.0.0.1 and stopped
// again: one bare Node forwarder (the floor for a hop) and mitmdump alone (the HTTPS proxy most
// people use). Also what only the chain has: big bodies (RSS of every process), leaf minting for a
// new host, and `up` of a five-hop chain. Every destination is the local fake provider.
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TunnelAgent } from '../../hops/runtime/tunnel-agent';
import { REPO_ROOT } from '../helpers/repo-root';

const ROOT = REPO_ROOT;
export const PROVIDER_CA = join(ROOT, 'test', 'fixtures', 'provider-ca.crt');

export interface Peer {
  child: ChildProcess;
  agent: https.Agent;
  /** Where requests are addressed (the CONNECT authority the proxy is asked for). */
  connectTo: { host: string; port: number };
  /** A proxy peer: its port and the CA its clients trust (the WebSocket bench opens its own connections). */
  proxy?: { port: number; ca: Buffer };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

function tunnel(proxyPort: number, caPem: string | Buffer): TunnelAgent {
  return new TunnelAgent({
    proxyHost: '127.0.0.1',
    proxyPort,
    proxyAuthorization: '',
    secureContext: tls.createSecureContext({ ca: caPem }),
  });
}

async function spawnBare(
  nextPort: number,
  link: boolean,
  lean: boolean | 'server' = false,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'dist', 'test', 'bench', 'bare-forwarder.js'),
      String(nextPort),
      link ? '--link' : '--connect',
      ...(lean === 'server' ? ['--lean-server'] : lean ? ['--lean'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) =>
      resolve((JSON.parse(d.toString().split('\n')[0]) as { port: number }).port),
    );
    child.once('exit', (code) => reject(new Error(`bare forwarder exited (${code})`)));
  });
  return { child, port };
}

export async function startBareForwarder(providerPort: number): Promise<Peer> {
  const { child, port } = await spawnBare(providerPort, false);
  return { child, agent: tunnel(port, readFileSync(PROVIDER_CA)), connectTo: { host: 'api.anthropic.com', port: 443 } };
}

/**
 * `count` bare forwarders in series, as many processes as the built-in chain has on its path: the first takes CONNECT,
 * the others HTTPS from the one before. `children` are all of them, the first first. `lean`: each sends with Moat's
 * link client (hops/runtime/link-client.ts) instead of Node's https.request; 'server': and those that take HTTPS
 * serve it without Node's http.Server (test/bench/lean-server.ts).
 */
export async function startBareSeries(
  providerPort: number,
  count: number,
  lean: boolean | 'server' = false,
): Promise<Peer & { children: ChildProcess[] }> {
  const children: ChildProcess[] = [];
  let next = providerPort;
  for (let i = count - 1; i >= 0; i--) {
    const started = await spawnBare(next, i > 0, lean);
    children.unshift(started.child);
    next = started.port;
  }
  return {
    child: children[0],
    children,
    agent: tunnel(next, readFileSync(PROVIDER_CA)),
    connectTo: { host: 'api.anthropic.com', port: 443 },
  };
}

/**
 * mitmdump in its regular mode, asked to CONNECT to 127.0.0.1:<provider> (so it never resolves a real
 * name), verifying the provider against its CA; the client trusts mitmdump's own CA.
 */
export async function startMitmdump(providerPort: number, confdir: string): Promise<Peer> {
  const port = await freePort();
  const child = spawn(
    'mitmdump',
    [
      '--listen-host',
      '127.0.0.1',
      '--listen-port',
      String(port),
      '--set',
      `confdir=${confdir}`,
      '--set',
      `ssl_verify_upstream_trusted_ca=${PROVIDER_CA}`,
      '--set',
      'stream_large_bodies=1',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const caFile = join(confdir, 'mitmproxy-ca-cert.pem');
  for (let i = 0; i < 200; i++) {
    if (existsSync(caFile) && (await accepts(port))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const ca = readFileSync(caFile);
  return {
    child,
    agent: tunnel(port, ca),
    connectTo: { host: '127.0.0.1', port: providerPort },
    proxy: { port, ca },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export function stop(peer: Peer | undefined): void {
  peer?.agent.destroy();
  peer?.child.kill();
}

// ---- big bodies: RSS growth of every process while 100 MB pass ----

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Samples every process's RSS every 20 ms while `work` runs: growth = highest seen - before, in MB. */
export async function rssGrowth(
  pids: Record<string, number>,
  work: () => Promise<void>,
): Promise<Record<string, number>> {
  const before = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, rssKb(pid)]));
  const peak = { ...before };
  const timer = setInterval(() => {
    for (const [n, pid] of Object.entries(pids)) peak[n] = Math.max(peak[n], rssKb(pid));
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Object.fromEntries(Object.keys(pids).map((n) => [n, Math.round(((peak[n] - before[n]) / 1024) * 10) / 10]));
}

export const BIG_BYTES = 100 * 1024 * 1024;

export function download(agent: https.Agent, to: { host: string; port: number }, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        ...to,
        servername: 'api.anthropic.com',
        path: `/bytes?n=${bytes}`,
        agent,
        headers: { host: 'api.anthropic.com' },
      },
      (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => (got += c.length));
        res.on('end', () =>
          got === bytes
            ? resolve(got)
            : reject(new Error(`download: ${got} of ${bytes} bytes (HTTP ${res.statusCode})`)),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export function upload(agent: https.Agent, to: { host: string; port: number }, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        ...to,
        servername: 'api.anthropic.com',
        method: 'POST',
        path: '/sink',
        agent,
        headers: { host: 'api.anthropic.com', 'content-type': 'application/octet-stream', 'content-length': bytes },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => {
          const received = res.statusCode === 200 ? (JSON.parse(text) as { received: number }).received : -1;
          return received === bytes
            ? resolve(received)
            : reject(new Error(`upload: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
        });
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let left = bytes;
    const write = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!req.write(part)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

/**
 * ms of one GET /v1/models to `host` (mapped to the provider by egress.resolve): the first mints leaves at every
 * boundary.
 */
export function timeGet(agent: https.Agent, host: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host, port: 443, servername: host, path: '/v1/models', agent, headers: { host } },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(performance.now() - t0)
            : reject(new Error(`${host}: HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
