// Where `verify` finds the head NATS keeps (ledger/head-kv.ts): one short connection for the one
// read. The NATS may be away (a chain that is down has no nats-server of its own): then the head
// there is reported as not checked, and verify goes on with the head file next to the ledger.
import { nats } from '../nats-module';
import { natsConnection, redactNatsUrl, type NatsIdentity } from '../../hops/events/nats-url';
import { getHead, natsHeadSource } from './head-kv';
import type { HeadLookup } from './commands';

export function natsHeadLookup(
  natsUrl: string,
  identity: NatsIdentity | undefined,
  chain: string,
  key: string,
): HeadLookup {
  return {
    source: natsHeadSource(chain, key),
    read: async () => {
      let nc;
      try {
        nc = await nats().connect({
          ...natsConnection(natsUrl, identity),
          name: `moat-${chain}-verify`,
          timeout: 2000,
          maxReconnectAttempts: 0,
        });
      } catch (err) {
        return { unavailable: `cannot reach NATS at ${redactNatsUrl(natsUrl)}: ${(err as Error).message}` };
      }
      try {
        return await getHead(nc, chain, key);
      } catch (err) {
        return { unavailable: `cannot read it: ${(err as Error).message}` };
      } finally {
        await nc.close().catch(() => undefined);
      }
    },
  };
}

/** The head in NATS cannot be looked at now (why), so verify says it did not check it. */
export function unavailableLookup(chain: string, key: string, why: string): HeadLookup {
  return { source: natsHeadSource(chain, key), read: async () => ({ unavailable: why }) };
}
