// `moat chain replay <trace> [--from-hop K]`: sends a recorded request again into the Moat
// process in front of hop K (CONNECT + TLS with the Moat CA, that process's own credential), as a new trace marked
// with x-moat-replay-of, and compares the response with the recorded one.
import http from 'node:http';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { traceFor } from '../../hops/logic/trace';
import type { StateLayout } from '../chain/state';
import { readRunningPlan } from '../chain/lifecycle';
import { queryEvents } from '../ledger/commands';
import { MoatError } from '../errors';
import {
  REPLAY_HEADER,
  replayDiff,
  replayRequest,
  type ReplayDiff,
  type ReplayRequest,
  type ReplayedResponse,
} from './replay';

const MAX_RESPONSE_BYTES = 4 << 20;
const TIMEOUT_MS = 120_000;

export interface ReplayResult {
  trace: string;
  replay_trace: string;
  from_hop: number;
  hop_name: string;
  warnings: string[];
  diff: ReplayDiff;
}

export async function replayTrace(layout: StateLayout, trace: string, fromHop: number): Promise<ReplayResult> {
  const plan = readRunningPlan(layout);
  const target = plan.processes.find(
    (p) => p.hop === fromHop && (p.role === 'builtin' || p.role === 'link' || p.role === 'egress'),
  );
  if (!target) {
    const last = plan.processes[plan.processes.length - 1].hop;
    throw new MoatError('MOAT_ERR_USAGE', `--from-hop needs a hop number from 1 to ${last} (egress), got ${fromHop}`);
  }
  const events = await queryEvents(layout, { trace });
  const request = replayRequest(events, trace, fromHop);
  const newTrace = traceFor({});
  const headers = { ...request.headers, ...newTrace.set, [REPLAY_HEADER]: trace };
  // The target takes only its own credential (the process before it holds it), not the agent's token.
  const credential = readFileSync(target.spec!.tokenFile, 'utf8').trim();
  const response = await send(target.port, credential, readFileSync(layout.caCertFile, 'utf8'), {
    ...request,
    headers,
  });
  return {
    trace,
    replay_trace: newTrace.trace,
    from_hop: fromHop,
    hop_name: target.name,
    warnings: request.warnings,
    diff: replayDiff(events, fromHop, response),
  };
}

function send(port: number, token: string, moatCa: string, r: ReplayRequest): Promise<ReplayedResponse> {
  const auth = `Basic ${Buffer.from(`moat:${token}`).toString('base64')}`;
  const authority = `${r.host}:${r.port}`;
  const body = Buffer.from(r.body);
  const headers = {
    ...r.headers,
    host: r.port === (r.scheme === 'https' ? 443 : 80) ? r.host : authority,
    'content-length': String(body.length),
  };
  return new Promise((resolve, reject) => {
    const failed = (err: Error) =>
      reject(new MoatError('MOAT_ERR_REPLAY_FAILED', `replay through 127.0.0.1:${port} failed: ${err.message}`));
    const collect = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', failed);
    };
    if (r.scheme === 'http') {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: r.method,
          path: `http://${authority}${r.path}`,
          headers: { ...headers, 'proxy-authorization': auth },
          timeout: TIMEOUT_MS,
        },
        collect,
      );
      req.on('error', failed).on('timeout', () => req.destroy(new Error('timed out')));
      return req.end(body);
    }
    const connect = http.request({
      host: '127.0.0.1',
      port,
      method: 'CONNECT',
      path: authority,
      headers: { 'proxy-authorization': auth },
      timeout: TIMEOUT_MS,
    });
    connect.on('error', failed).on('timeout', () => connect.destroy(new Error('timed out')));
    connect.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return failed(new Error(`CONNECT answered ${res.statusCode}`));
      }
      const secure = tls.connect({ socket, servername: r.host, ca: moatCa, ALPNProtocols: ['http/1.1'] });
      // HTTP over the TLS session inside the tunnel: the socket is given, so no agent dials anything.
      const req = http.request(
        { method: r.method, path: r.path, headers, createConnection: () => secure, timeout: TIMEOUT_MS },
        collect,
      );
      req.on('error', failed).on('timeout', () => req.destroy(new Error('timed out')));
      req.end(body);
    });
    connect.end();
  });
}
