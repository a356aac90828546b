// Who made an error answer that reached the link in front of a third-party hop. Behind mitmproxy or tinyproxy, a
// Moat process that is down or failing used to reach the agent as the hop's own error page (mitmproxy's HTML 502),
// naming no hop. The Moat process after a third-party hop marks every response it sends back (VIA_HEADER, its hop
// number); the link in front of the hop reads the mark and removes it. A 5xx without it was made by the hop itself:
// the link answers moat's JSON instead, keeping the status, naming the Moat process after the hop when that one does
// not answer a direct probe, else the hop. Pure: the link reads the body and sends the probe.
//
// The mark is no secret: the hop sees it and could copy it onto its own page, which then passes as it is (as every
// hop's page used to). Nothing after the process that sets it can: that process overwrites it on every response.
import type { IncomingHttpHeaders } from 'node:http';
import type { NextHop } from '../spec';
import type { Failure } from './failure';
import type { ProbeResult } from './hop-health';
import { NO_WAY_ROUND } from './agent-hint';

/** The response header the Moat process after a third-party hop puts on everything it answers: its hop number. */
export const VIA_HEADER = 'x-moat-via';
/**
 * The response header the Moat process after a third-party hop adds when it claimed an entry of the link in front of
 * the hop for this request (hops/logic/inflight.ts): that link's bookkeeping of claims, never sent further.
 */
export const CLAIMED_HEADER = 'x-moat-claimed';

/** How much of a hop's own answer the JSON quotes (`hop_answer`). */
export const HOP_ANSWER_CHARS = 300;

/**
 * The response was made by the third-party hop in front of `beyond` (its own error page), not passed on from the
 * chain after it: a 5xx with neither the mark of `beyond` nor an `x-moat-error`.
 */
export function madeByHop(status: number, headers: IncomingHttpHeaders, beyond: Pick<NextHop, 'hop'>): boolean {
  if (status < 500 || status > 599) return false;
  if (headers['x-moat-error'] !== undefined) return false;
  return headers[VIA_HEADER] !== String(beyond.hop);
}

/** The hop's own answer as one line of text: tags and runs of white space out, at most HOP_ANSWER_CHARS characters. */
export function answerText(body: string): string {
  const printable = Array.from(body, (c) => (c.charCodeAt(0) < 0x20 || c === '\u007f' ? ' ' : c)).join('');
  const text = printable
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > HOP_ANSWER_CHARS ? `${text.slice(0, HOP_ANSWER_CHARS - 1)}…` : text;
}

/**
 * What the link answers instead of the hop's own `status` page: `beyond` did not answer its direct probe, so it is
 * what failed (hop_unavailable, or hop_timeout when it hangs); else the hop itself failed (hop_error).
 */
export function hopAnswerFailure(
  hop: Pick<NextHop, 'hop' | 'name'>,
  beyond: Pick<NextHop, 'hop' | 'name'>,
  status: number,
  body: string,
  beyondProbe: ProbeResult,
): Failure {
  const named = `hop ${hop.hop} (${hop.name})`;
  const answer = answerText(body);
  const quoted = { hop_status: status, ...(answer ? { hop_answer: answer } : {}) };
  if (beyondProbe !== 'ok') {
    const after = `hop ${beyond.hop} (${beyond.name})`;
    const down = beyondProbe === 'down' ? 'is not accepting connections' : 'does not answer';
    return {
      status,
      error: beyondProbe === 'down' ? 'hop_unavailable' : 'hop_timeout',
      message: sentence(`${after} ${down}; ${named} answered ${status} for it`),
      hop: beyond.hop,
      hop_name: beyond.name,
      ...quoted,
    };
  }
  return {
    status,
    error: 'hop_error',
    message: sentence(`${named} answered ${status} itself (its own error, not an answer from the chain after it)`),
    hop: hop.hop,
    hop_name: hop.name,
    ...quoted,
  };
}

/**
 * A failure of the hop (hop_failed, hop_timeout) while `beyond`, the Moat process after it, does not answer: what
 * failed is beyond, and the failure names it; otherwise undefined (the failure stands as it is).
 */
export function blameBeyond(failure: Failure, beyond: Pick<NextHop, 'hop' | 'name'>, beyondProbe: ProbeResult) {
  if (beyondProbe === 'ok') return undefined;
  if (failure.error !== 'hop_failed' && failure.error !== 'hop_timeout') return undefined;
  const after = `hop ${beyond.hop} (${beyond.name})`;
  const down = beyondProbe === 'down';
  const result: Failure = {
    status: down ? 502 : 504,
    error: down ? 'hop_unavailable' : 'hop_timeout',
    message: sentence(
      `${after} ${down ? 'is not accepting connections' : 'does not answer'}; in front of it, ${failure.message}`,
    ),
    hop: beyond.hop,
    hop_name: beyond.name,
  };
  return result;
}

/** A failure naming a hop, its message made the sentence the agent gets (the one of the others here). */
export function withSentence(failure: Failure): Failure {
  return failure.hop === undefined ? failure : { ...failure, message: sentence(failure.message) };
}

/** What the agent should make of it: moat is the only way out, so retry through moat later or ask the user. */
function sentence(what: string): string {
  return `moat: ${what}; ${NO_WAY_ROUND}: retry through moat later, or ask the user.`;
}
