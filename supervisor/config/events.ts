// events: in moat.yaml: the check the schema cannot express (a central ledger needs a NATS its writer can reach).
import type { ResolvedConfig } from './types';
import type { JsonPath } from './schema-check';
import { MoatError } from '../errors';

/**
 * A central ledger is written by `moat ledger serve` from a shared NATS: the chain's own loopback nats-server is out of
 * its reach.
 */
export function checkCentralLedger(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  if (config.events.ledger === 'central' && !config.events.nats_url) {
    throw new MoatError(
      'MOAT_ERR_LEDGER_NEEDS_NATS_URL',
      `${where(['events', 'ledger'])}: events.ledger: central needs events.nats_url, the shared NATS that \`moat ` +
        `ledger serve\` reads (the chain's own nats-server listens on loopback only); set it, or remove ` +
        `events.ledger for a local ledger`,
    );
  }
}
