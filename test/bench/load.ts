// What the A/B benches share (chain-ab, chain-pair, link-floor): a process's CPU from /proc, and one GET /v1/models
// through a proxy's agent. Talks to 127.0.0.1 only (the agent's proxy is there).
import https from 'node:https';
import { readFileSync } from 'node:fs';

export const MODELS_HOST = 'api.anthropic.com';

/** How a request reaches the provider: the agent, and the address asked for (api.anthropic.com:443 by default). */
export interface Through {
  agent: https.Agent;
  connectTo?: { host: string; port: number };
}

/** User and system CPU ms a process has used (/proc/PID/stat, in 1/100 s). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 };
}

/** User plus system CPU ms a process has used. */
export function cpuMs(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** One GET /v1/models; rejects on anything but a 200 (`label` names the target in the error). */
export function getModels(t: Through, label = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        ...(t.connectTo ?? { host: MODELS_HOST, port: 443 }),
        servername: MODELS_HOST,
        path: '/v1/models',
        agent: t.agent,
        headers: { host: MODELS_HOST },
        timeout: 10_000,
      },
      (res) => {
        if (res.statusCode !== 200) {
          // A failure names its hop and error in its JSON body: say it, not the status alone.
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c.slice(0, 2000 - body.length)));
          res.on('end', () => reject(new Error(`${label ? `${label}: ` : ''}HTTP ${res.statusCode} ${body}`)));
          return;
        }
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
