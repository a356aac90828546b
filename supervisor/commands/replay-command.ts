// `moat chain replay <trace> [--from-hop K] [--skip-hop N]`: sends a recorded request again into the Moat
// process in front of hop K (CONNECT + TLS with the Moat CA, that process's own credential), as a new trace marked
// with x-moat-replay-of, and compares the response with the recorded one. With --skip-hop the request carries an ask,
// signed with the chain's skip key, that hop N's process send it on without the hop (hops/logic/replay-skip.ts).
import http from 'node:http';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { traceFor } from '../../hops/logic/trace';
import type { StateLayout } from '../chain/state';
import { readRunningPlan } from '../chain/lifecycle';
import type { Plan, PlannedProcess } from '../chain/plan-types';
import { SKIP_KEY_ID, skippability } from '../chain/skip-hop';
import { SKIP_HEADER, SKIPPED_HEADER, skipAsk } from '../../hops/logic/replay-skip';
import type { MoatEvent } from '../../schemas/generated/event';
import { queryEvents } from '../ledger/commands';
import { MoatError } from '../errors';
import { traceMarks } from './bisect';
import {
  REPLAY_HEADER,
  boundariesOf,
  eventsComplete,
  eventsSettled,
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
  /** --skip-hop: the hop asked to be skipped, its name, and whether its process said it was. */
  skip?: { hop: number; name: string; skipped: boolean };
  warnings: string[];
  diff: ReplayDiff;
  /** The chain's marks (event-marks.ts) at the hops the replay went through: the recorded trace's and the replay's. */
  marks: { recorded: string[]; replayed: string[] };
}

/** A recorded request ready to be sent again into hop K, as often as bisect needs. */
export interface PreparedReplay {
  layout: StateLayout;
  plan: Plan;
  trace: string;
  fromHop: number;
  target: PlannedProcess;
  events: MoatEvent[];
  request: ReplayRequest;
}

export async function prepareReplay(layout: StateLayout, trace: string, fromHop: number): Promise<PreparedReplay> {
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
  return { layout, plan, trace, fromHop, target, events, request };
}

/** The process of hop `hop` and the ask it takes, or MOAT_ERR_HOP_NOT_SKIPPABLE naming the hop and why. */
export function checkSkippable(p: PreparedReplay, hop: number): PlannedProcess {
  const s = skippability(p.plan.processes, hop);
  if (!s.ok) throw new MoatError('MOAT_ERR_HOP_NOT_SKIPPABLE', s.reason);
  if (hop < p.fromHop)
    throw new MoatError(
      'MOAT_ERR_USAGE',
      `--skip-hop ${hop} is before --from-hop ${p.fromHop}: the replay enters the chain after that hop`,
    );
  return s.process;
}

export interface SentReplay {
  replayTrace: string;
  response: ReplayedResponse;
  /** With a skip: whether the hop's process said it skipped it. */
  skipped?: boolean;
}

export async function sendReplay(p: PreparedReplay, skipHop?: number): Promise<SentReplay> {
  const newTrace = traceFor({});
  const headers: Record<string, string> = { ...p.request.headers, ...newTrace.set, [REPLAY_HEADER]: p.trace };
  if (skipHop !== undefined) {
    checkSkippable(p, skipHop);
    headers[SKIP_HEADER] = skipAsk(readSkipKey(p.layout), skipHop, newTrace.trace, Date.now());
  }
  // The target takes only its own credential (the process before it holds it), not the agent's token.
  const credential = readFileSync(p.target.spec!.tokenFile, 'utf8').trim();
  const response = await send(p.target.port, credential, readFileSync(p.layout.caCertFile, 'utf8'), {
    ...p.request,
    headers,
  });
  const said = response.headers[SKIPPED_HEADER];
  delete response.headers[SKIPPED_HEADER];
  return {
    replayTrace: newTrace.trace,
    response,
    ...(skipHop !== undefined ? { skipped: said === String(skipHop) } : {}),
  };
}

/** How long the ledger may take to hold a replay's events (they arrive in bursts of 100 ms). */
const EVENTS_TIMEOUT_MS = 10_000;
const EVENTS_POLL_MS = 100;
/** A replay that stopped before the recorded trace's last boundary is whole once its events stop coming this long. */
const EVENTS_SETTLE_MS = 600;

/**
 * The events of each replay trace, read from the ledger once it holds a request and a response at each of
 * `boundaries` (the recorded trace's), or at each boundary the replay reached from the first (eventsSettled) with no
 * new event for EVENTS_SETTLE_MS, or when EVENTS_TIMEOUT_MS has passed: `late` lists the traces still missing some.
 */
export async function replayEvents(
  layout: StateLayout,
  traces: readonly string[],
  boundaries: readonly number[],
  timeoutMs = EVENTS_TIMEOUT_MS,
): Promise<{ events: Map<string, MoatEvent[]>; late: string[] }> {
  const events = new Map<string, MoatEvent[]>();
  const changed = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  let waiting = [...traces];
  for (;;) {
    const now = Date.now();
    for (const t of waiting) {
      const got = await queryEvents(layout, { trace: t });
      if (got.length !== events.get(t)?.length) changed.set(t, now);
      events.set(t, got);
    }
    const whole = (t: string) =>
      eventsComplete(events.get(t)!, boundaries) ||
      (eventsSettled(events.get(t)!, boundaries[0] ?? 0) && now - changed.get(t)! >= EVENTS_SETTLE_MS);
    waiting = waiting.filter((t) => !whole(t));
    if (!waiting.length || Date.now() >= deadline) return { events, late: waiting };
    await new Promise((r) => setTimeout(r, EVENTS_POLL_MS));
  }
}

function readSkipKey(layout: StateLayout): string {
  try {
    return readFileSync(layout.linkTokenFile(SKIP_KEY_ID), 'utf8').trim();
  } catch {
    throw new MoatError(
      'MOAT_ERR_HOP_NOT_SKIPPABLE',
      'this chain was started without a skip key (by an older moat): run `moat chain up` again to skip hops',
    );
  }
}

export async function replayTrace(
  layout: StateLayout,
  trace: string,
  fromHop: number,
  skipHop?: number,
): Promise<ReplayResult> {
  const p = await prepareReplay(layout, trace, fromHop);
  const skipProcess = skipHop === undefined ? undefined : checkSkippable(p, skipHop);
  const sent = await sendReplay(p, skipHop);
  const warnings = [...p.request.warnings];
  if (skipProcess && !sent.skipped)
    warnings.push(
      `hop ${skipHop} (${skipProcess.name}) was not skipped: its process did not get the ask (a hop before it ` +
        `dropped x-moat-* headers?) or refused it (moat chain logs ${skipHop})`,
    );
  // The marks come from every boundary's events: wait until the ledger holds the replay's.
  const from = p.fromHop - 1;
  const { events, late } = await replayEvents(
    layout,
    [sent.replayTrace],
    boundariesOf(p.events).filter((b) => b >= from),
  );
  if (late.length)
    warnings.push(
      `the ledger did not hold every event of replay ${sent.replayTrace} in time: its marks may be missing`,
    );
  return {
    trace,
    replay_trace: sent.replayTrace,
    from_hop: fromHop,
    hop_name: p.target.name,
    ...(skipProcess ? { skip: { hop: skipHop!, name: skipProcess.name, skipped: sent.skipped === true } } : {}),
    warnings,
    diff: replayDiff(p.events, fromHop, sent.response),
    marks: {
      recorded: traceMarks(p.events.filter((e) => e.boundary >= from)),
      replayed: traceMarks(events.get(sent.replayTrace) ?? []),
    },
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
