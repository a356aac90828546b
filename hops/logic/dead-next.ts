// A request sent on a kept-alive connection to the next process fails with a reset when that process has just died:
// the connection was open when the request left, so the failure reads "broke the connection" (hop_failed). Asked
// once more whether it accepts connections, a dead process refuses, and the agent is told what happened: the hop is
// unavailable (as a request on a fresh connection would have been told). Pure: the runtime makes the connection.
import type { NextHop } from '../spec';
import type { Failure } from './failure';

/** The errors of a connection the other end reset or closed under a request (a "socket hang up" is ECONNRESET). */
const CUT = new Set(['ECONNRESET', 'EPIPE']);

/** Whether a failure is worth asking the next process about: it cut the connection a request was on. */
export function cutByNext(failure: Failure, code: string | undefined, next: Pick<NextHop, 'hop'>): boolean {
  return failure.error === 'hop_failed' && failure.hop === next.hop && CUT.has(code ?? '');
}

/**
 * `failure` (`code` its error's) restated as hop_unavailable when `next` no longer accepts connections; undefined when
 * it stands as it is.
 */
export function blameDeadNext(
  failure: Failure,
  code: string | undefined,
  next: Pick<NextHop, 'hop' | 'name'>,
  accepts: boolean,
): Failure | undefined {
  if (accepts || !cutByNext(failure, code, next)) return undefined;
  return {
    status: 502,
    error: 'hop_unavailable',
    message: `hop ${next.hop} (${next.name}) is not accepting connections: it closed the one this request was sent on`,
    hop: next.hop,
    hop_name: next.name,
  };
}
