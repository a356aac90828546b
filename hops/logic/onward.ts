// Questions every part of a Moat process asks of its spec's `onward` (hops/spec.ts): which process is next, and
// whether this is the last Moat process on the way out. Pure.
import type { LinkSpec, NextHop, Onward } from '../spec';

/** The process this one sends to; undefined for egress (the destination is no process of the chain). */
export function nextOf(onward: Onward): NextHop | undefined {
  return onward.kind === 'internet' ? undefined : onward.next;
}

/**
 * Egress, or the link in front of a last hop that dials destinations itself: nothing of moat is after it, so it drops
 * x-moat-* and applies egress.allow.
 */
export function isLastMoat(spec: Pick<LinkSpec, 'onward'>): boolean {
  return spec.onward.kind === 'internet' || spec.onward.kind === 'last_hop';
}

/** The next process takes neither a credential nor x-moat-* from this one: a third-party hop that dials itself. */
export function nextDialsItself(onward: Onward): boolean {
  return onward.kind === 'last_hop' || (onward.kind === 'forward_hop' && onward.dialsDirectly === true);
}
