// `moat chain replay`: the request a boundary recorded, rebuilt to be sent again into hop K, and
// how the new response differs from the recorded one. Pure; replay-command.ts does the I/O.
import type { MoatEvent } from '../../schemas/generated/event';
import { REDACTED, redactHeaders, redactSecrets } from '../../hops/events/redact';
import { MoatError } from '../errors';
import { bodyChanges, headerChanges, type HeaderChanges } from '../ledger/tap-view';
import { SKIP_HEADER } from '../../hops/logic/replay-skip';
import { comparableBody } from './sse-body';

/** Marks a replayed request; the events of every boundary it passes carry `replay_of`. */
export const REPLAY_HEADER = 'x-moat-replay-of';

// Set again by the runtime for the new request (length, trace) or meaningless on a new connection.
const NOT_REPLAYED = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'x-moat-trace',
  'traceparent',
  'tracestate',
  REPLAY_HEADER,
  SKIP_HEADER,
]);

export interface ReplayRequest {
  method: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** What the user should know: masked secrets sent as masks, credential headers left out. */
  warnings: string[];
}

/** The request as it went into hop K (boundary K-1) for `trace`. */
export function replayRequest(events: readonly MoatEvent[], trace: string, fromHop: number): ReplayRequest {
  if (events.length === 0)
    throw new MoatError(
      'MOAT_ERR_TRACE_NOT_FOUND',
      `no events for trace ${trace} in the ledger (moat chain events lists the traces)`,
    );
  if (events.some((e) => e.direction === 'frames' || e.websocket))
    throw new MoatError(
      'MOAT_ERR_REPLAY_WEBSOCKET',
      `trace ${trace} is a WebSocket connection: replay sends one HTTP request and cannot play its frames again`,
    );
  const recorded = events.find((e) => e.direction === 'request' && e.boundary === fromHop - 1);
  if (!recorded) {
    const hops = [...new Set(events.filter((e) => e.direction === 'request').map((e) => e.boundary + 1))].sort(
      (a, b) => a - b,
    );
    throw new MoatError(
      'MOAT_ERR_TRACE_NOT_FOUND',
      `trace ${trace} has no request recorded in front of hop ${fromHop}; it has one in front of hop ` +
        `${hops.join(', ')}`,
    );
  }
  const size = recorded.body_size ?? 0;
  if (size > 0 && recorded.body === undefined) {
    throw new MoatError(
      'MOAT_ERR_REPLAY_NO_BODY',
      `trace ${trace}: the request's body was not recorded (capture.bodies: metadata); set capture.bodies: ` +
        `redacted or full in moat.yaml to replay requests with bodies`,
    );
  }
  if (recorded.body_truncated) {
    throw new MoatError(
      'MOAT_ERR_REPLAY_NO_BODY',
      `trace ${trace}: only the first ${Buffer.byteLength(recorded.body ?? '')} of ${size} bytes of the ` +
        `request's body were recorded (capture.max_body_bytes); raise it to replay this request`,
    );
  }
  const warnings: string[] = [];
  const headers: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(recorded.headers ?? {})) {
    if (NOT_REPLAYED.has(name)) continue;
    if (value === REDACTED) dropped.push(name);
    else headers[name] = value;
  }
  if (dropped.length)
    warnings.push(
      `credential headers are never recorded, so not replayed: ${dropped.join(', ')} (egress adds granted keys)`,
    );
  const body = recorded.body ?? '';
  if (body.includes('[REDACTED'))
    warnings.push('the body was recorded with secrets masked; the replay sends the masks');
  return {
    method: recorded.method ?? 'GET',
    scheme: recorded.scheme === 'http' ? 'http' : 'https',
    host: recorded.host ?? '',
    port: recorded.port ?? 443,
    // The query is never recorded (it may hold keys): the replay has none.
    path: recorded.path ?? '/',
    headers,
    body,
    warnings,
  };
}

export interface ReplayedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface ReplayDiff {
  status: { recorded?: number; replayed: number };
  headers: HeaderChanges;
  body: string[];
}

/** The replayed response against the response recorded at the same boundary, both as events would hold them. */
export function replayDiff(events: readonly MoatEvent[], fromHop: number, replayed: ReplayedResponse): ReplayDiff {
  const recorded = events.find((e) => e.direction === 'response' && e.boundary === fromHop - 1);
  const now = redactHeaders(replayed.headers);
  return {
    status: { recorded: recorded?.status, replayed: replayed.status },
    headers: headerChanges(recorded?.headers, now),
    // Masked like a recorded body, so a secret in the new response is not printed and masks do not count as changes.
    // A stream is compared event by event (sse-body.ts).
    body:
      recorded?.body === undefined
        ? []
        : bodyChanges(
            comparableBody(recorded.body, recorded.headers?.['content-type']),
            comparableBody(redactSecrets(replayed.body), replayed.headers['content-type']),
          ),
  };
}

export function formatReplay(
  trace: string,
  replayTrace: string,
  fromHop: number,
  hopName: string,
  d: ReplayDiff,
  skip?: { hop: number; name: string; skipped: boolean },
  marks?: { recorded: readonly string[]; replayed: readonly string[] },
): string {
  const without = skip ? ` without hop ${skip.hop} (${skip.name}${skip.skipped ? '' : ': NOT skipped'})` : '';
  const lines = [`replayed trace ${trace} into hop ${fromHop} (${hopName})${without} as trace ${replayTrace}`];
  lines.push(
    `  status ${d.status.recorded ?? '-'} -> ` +
      `${d.status.replayed}${d.status.recorded === d.status.replayed ? ' (same)' : ''}`,
  );
  const h = [
    ...d.headers.added.map((n) => `+${n}`),
    ...d.headers.removed.map((n) => `-${n}`),
    ...d.headers.changed.map((n) => `~${n}`),
  ];
  lines.push(`  headers ${h.length ? h.join(' ') : '(same)'}`);
  if (d.body.length) lines.push('  body', ...d.body.map((c) => `    ${c}`));
  else lines.push('  body (same, or not recorded)');
  if (marks) lines.push(`  marks ${marksLine(marks.recorded, marks.replayed)}`);
  return lines.join('\n');
}

/** The chain's marks of the recorded trace against the replay's: `-stream_changed at hop 3`, or `(same: ...)`. */
export function marksLine(recorded: readonly string[], replayed: readonly string[]): string {
  const changed = [
    ...recorded.filter((m) => !replayed.includes(m)).map((m) => `-${m}`),
    ...replayed.filter((m) => !recorded.includes(m)).map((m) => `+${m}`),
  ];
  if (changed.length) return changed.join(', ');
  return recorded.length ? `(same: ${recorded.join(', ')})` : '(none)';
}

/** The boundaries at which a trace recorded both its request and its response. */
export function boundariesOf(events: readonly MoatEvent[]): number[] {
  const seen = (d: string) => new Set(events.filter((e) => e.direction === d).map((e) => e.boundary));
  const responses = seen('response');
  return [...seen('request')].filter((b) => responses.has(b)).sort((a, b) => a - b);
}

/** Whether a replay's events hold a request and a response at each of `boundaries` (those the recorded trace has). */
export function eventsComplete(events: readonly MoatEvent[], boundaries: readonly number[]): boolean {
  const have = new Set(boundariesOf(events));
  return boundaries.every((b) => have.has(b));
}

/**
 * Whether a replay's events look whole though some of `boundaries` are missing (it stopped earlier: denied, failed):
 * the first boundary has its request and response, and every boundary it reached, contiguous from there, has both.
 */
export function eventsSettled(events: readonly MoatEvent[], first: number): boolean {
  const both = boundariesOf(events);
  const requests = new Set(events.filter((e) => e.direction === 'request').map((e) => e.boundary));
  if (both[0] !== first || requests.size !== both.length) return false;
  return both.every((b, i) => b === first + i);
}
