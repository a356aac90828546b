// Does an event say what the subject it arrived on says? (pure) Each recording process may publish
// on its own hop's subjects only (nats-auth.ts), so the subject tells which process sent a message;
// an event whose content names another chain, hop or boundary was made up (or a process is broken),
// and the ledger writer refuses it rather than sign it into the ledger as another hop's observation.
// Defence in depth: on moat's own NATS the server already refuses a publish on another hop's subject.
import { parseEventSubject } from '../../hops/events/subjects';

/**
 * Why `event` cannot have come from the process that publishes on `subject` of chain `chain`, or undefined when
 * it can. The process in front of hop k records boundary k-1 (egress: hop N+1, boundary N).
 */
export function originProblem(
  chain: string,
  subject: string,
  event: { chain?: unknown; hop?: unknown; boundary?: unknown; direction?: unknown },
): string | undefined {
  const s = parseEventSubject(subject);
  if (!s) return `the subject is not an event subject of a hop (moat.<chain>.hop.<k>.events)`;
  if (s.chain !== chain) return `the subject is chain "${s.chain}"'s, this ledger is chain "${chain}"'s`;
  if (event.chain !== chain) return `the event says chain ${JSON.stringify(event.chain)}, the subject chain "${chain}"`;
  if (event.hop !== s.hop) return `the event says hop ${JSON.stringify(event.hop)}, the subject hop ${s.hop}`;
  if (event.boundary !== s.hop - 1)
    return (
      `the event says boundary ${JSON.stringify(event.boundary)}, the process publishing on hop ${s.hop}'s ` +
      `subject records boundary ${s.hop - 1}`
    );
  if (s.kind !== 'events' && event.direction !== s.kind)
    return `the event says direction ${JSON.stringify(event.direction)}, the subject ${s.kind}`;
  return undefined;
}
