// One liveness probe of the process a Moat process forwards to: `GET /_moat/health`, answered by a Moat process's
// listener itself (LinkServer), never forwarded, recorded or logged. Any HTTP answer in time means the process is
// alive (a 407 too: the probe tells "answers" from "does not", nothing else); no answer is a timeout; a refused or
// reset connection means it is down (pm2 restarting it, or it exited), which the forwarder reports by itself.
import http from 'node:http';
import net from 'node:net';
import type { ProbeResult } from '../logic/hop-health';

export const HEALTH_PATH = '/_moat/health';
/**
 * The host of a probe sent through a third-party forward proxy: ".invalid" never resolves, so it can go nowhere else.
 */
export const HEALTH_HOST = 'moat-health.invalid';

/**
 * `direct`: origin-form to a Moat process (or to a base_url hop, which answers it or passes it to the Moat process
 * after it, which answers it). `through`: absolute-form `http://moat-health.invalid/_moat/health` to a third-party
 * forward proxy, which sends it to its upstream, the next Moat link, which answers it.
 */
export type ProbeForm = 'direct' | 'through';

export function probe(
  port: number,
  form: ProbeForm,
  authorization: string,
  timeoutMs: number,
  agent: http.Agent,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'GET',
      path: form === 'through' ? `http://${HEALTH_HOST}${HEALTH_PATH}` : HEALTH_PATH,
      headers: {
        host: form === 'through' ? HEALTH_HOST : `127.0.0.1:${port}`,
        ...(authorization ? { 'proxy-authorization': authorization } : {}),
      },
      agent,
    });
    // Decided after the event loop's poll phase: if this process itself was held up (timers run before I/O), an
    // answer already waiting in the socket is read first and counts.
    const timer = setTimeout(() => {
      setImmediate(() => {
        settle('timeout');
        req.destroy();
      });
    }, timeoutMs);
    req.on('response', (res) => {
      res.resume();
      settle('ok');
    });
    req.on('error', () => settle('down'));
    req.end();
  });
}

/** How long the Moat process after a third-party hop has to answer when the hop answered or failed in its place. */
const BEYOND_PROBE_MS = 1000;
/** One connection per probe: these are rare (an error behind a hop), so nothing is kept open for them. */
const beyondAgent = new http.Agent({ keepAlive: false });

/**
 * The Moat process after a third-party hop, asked directly whether it answers: when the hop answered an error page or
 * failed, this tells whether the hop or the process after it is to blame (hops/logic/hop-answer.ts).
 */
export function probeBeyond(port: number): Promise<ProbeResult> {
  return probe(port, 'direct', '', BEYOND_PROBE_MS, beyondAgent);
}

/** How long a connection to the next process may take before it counts as accepting (it exists, merely slow). */
const ACCEPT_PROBE_MS = 1000;

/**
 * Whether anything accepts a TCP connection on `port` now: false only when the connection is refused or reset. A
 * request that failed on a kept-alive connection ("broke the connection") is told apart from a next process that
 * died (hops/logic/dead-next.ts). Nothing is sent: the connection is closed as soon as it opens.
 */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const settle = (accepts: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(accepts);
    };
    const timer = setTimeout(() => settle(true), ACCEPT_PROBE_MS);
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
  });
}
