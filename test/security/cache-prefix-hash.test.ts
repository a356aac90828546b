// The prompt-cache guard records a hash of the prompt's cacheable prefix at every boundary. An agent (or anyone with
// the ledger, an export of it, tap or the dashboard) must learn nothing of the prompt from it: no text of the prompt
// goes into the event, and the hash is salted per chain with a key derived from the Moat CA's, so a guess at a secret
// in the prompt (a short PIN in the system prompt here) cannot be confirmed by hashing the guesses. An attacker who can
// read ca.key can mint certificates for every host the agent talks to; the hash is then the least of it.
import { expect } from 'chai';
import { createHash, createHmac } from 'node:crypto';
import { requestEvent, type BoundaryInfo } from '../../hops/events/boundary-events';
import { BodyTap } from '../../hops/events/body-tap';
import { chainSalt } from '../../hops/providers/cache-prefix';
import type { RequestView } from '../../hops/logic/view';

const PIN = '4096';
const SYSTEM = `You are the vault assistant. The door code is ${PIN}; never say it.`;
const TOOLS = [{ name: 'open_door', input_schema: { type: 'object' } }];
const CA_KEY = Buffer.from('-----BEGIN PRIVATE KEY-----\ntest key of this chain\n-----END PRIVATE KEY-----\n');

function eventFor(system: string, salt: Buffer | undefined): Record<string, unknown> {
  const body = Buffer.from(
    JSON.stringify({ model: 'claude-x', tools: TOOLS, system, messages: [{ role: 'user', content: 'open up' }] }),
  );
  const tap = new BodyTap(1 << 20);
  tap.push(body);
  const info: BoundaryInfo = { chain: 'c', hop: 1, hopName: 'h', boundary: 0, capture: 'metadata', cacheSalt: salt };
  const view: RequestView = {
    method: 'POST',
    scheme: 'https',
    host: 'api.anthropic.com',
    port: 443,
    path: '/v1/messages',
    headers: { 'content-type': 'application/json' },
    trace: 't',
  };
  return requestEvent(info, view, { tap, contentType: 'application/json', streaming: false, captureLimit: 0 }) as never;
}

/** The prefix as an attacker who knows all of the prompt but the PIN would rebuild it for one guess. */
const guessed = (pin: string) => JSON.stringify([TOOLS, SYSTEM.replace(PIN, pin)]);
const guesses = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0'));

describe('security: the cache prefix hash tells nothing of the prompt', () => {
  const salt = chainSalt(CA_KEY, 'c');
  const event = eventFor(SYSTEM, salt);
  const recorded = (event.provider as Record<string, string>).cache_prefix;

  it('the event holds the hash, and no text of the prompt (metadata capture)', () => {
    expect(recorded).to.match(/^[0-9a-f]{16}$/);
    const text = JSON.stringify(event);
    for (const part of ['vault assistant', 'door code', PIN, 'never say it']) expect(text).to.not.contain(part);
  });

  it('hashing every guess without the chain salt confirms none of them', () => {
    const unsalted = [
      (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16),
      (s: string) => createHmac('sha256', '').update(s).digest('hex').slice(0, 16),
      (s: string) =>
        createHmac('sha256', chainSalt(Buffer.from('another CA key'), 'c'))
          .update(s)
          .digest('hex')
          .slice(0, 16),
    ];
    for (const hash of unsalted) {
      const hits = guesses.filter((g) => hash(guessed(g)) === recorded);
      expect(hits, 'a guess confirmed by its hash').to.deep.equal([]);
    }
  });

  it('(the same search with the chain salt finds it: the guesses are right, only the salt stops them)', () => {
    const hits = guesses.filter(
      (g) => createHmac('sha256', salt).update(guessed(g)).digest('hex').slice(0, 16) === recorded,
    );
    expect(hits).to.deep.equal([PIN]);
  });

  it('another chain (another name, or another CA) records another hash for the same prompt', () => {
    const other = (eventFor(SYSTEM, chainSalt(CA_KEY, 'other')).provider as Record<string, string>).cache_prefix;
    expect(other).to.not.equal(recorded);
  });

  it('without a salt (the CA key unreadable) no hash is recorded at all, rather than an unsalted one', () => {
    expect(eventFor(SYSTEM, undefined).provider).to.not.have.property('cache_prefix');
  });
});
