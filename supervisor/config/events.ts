// events: in moat.yaml: the checks the schema cannot express (a central ledger needs a NATS its writer can reach; a
// NATS URL list whose every server is one nats.js can use; replicas need a cluster; each sink's address, loopback
// unless the sink says remote: true, and sinks need the local ledger writer that sends them).
import type { ResolvedConfig } from './types';
import type { JsonPath } from './schema-check';
import { MoatError } from '../errors';
import { natsUrlProblem } from '../../hops/events/nats-url';
import { sinkSpec } from '../findings/sink-spec';

/** More sinks than this is a mistake: each has its own queue and connection in the ledger writer. */
export const MAX_SINKS = 8;

export function checkEvents(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  checkCentralLedger(config, where);
  checkSinks(config, where);
  const { nats_url: url, replicas } = config.events;
  const problem = url === undefined ? undefined : natsUrlProblem(url);
  if (problem)
    throw new MoatError('MOAT_ERR_CONFIG_INVALID', `${where(['events', 'nats_url'])}: events.nats_url: ${problem}`);
  if (replicas !== undefined && replicas > 1 && !url)
    throw new MoatError(
      'MOAT_ERR_CONFIG_INVALID',
      `${where(['events', 'replicas'])}: events.replicas: ${replicas} needs events.nats_url, a NATS cluster: the ` +
        `chain's own nats-server is one server and keeps one copy; set events.nats_url, or remove events.replicas`,
    );
}

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

/** events.sinks: at most MAX_SINKS, each address host:port, off the machine only with remote: true; a local ledger. */
export function checkSinks(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  const sinks = config.events.sinks ?? [];
  if (sinks.length > MAX_SINKS)
    throw new MoatError(
      'MOAT_ERR_CONFIG_INVALID',
      `${where(['events', 'sinks'])}: events.sinks: ${sinks.length} sinks, at most ${MAX_SINKS}`,
    );
  if (sinks.length > 0 && config.events.ledger === 'central')
    throw new MoatError(
      'MOAT_ERR_CONFIG_INVALID',
      `${where(['events', 'sinks'])}: events.sinks needs events.ledger: local (the chain's ledger writer sends ` +
        `findings as it stores their events; with a central ledger, \`moat ledger serve --sink SPEC\` sends ` +
        `them where the ledgers are written): remove events.sinks, or use a local ledger`,
    );
  sinks.forEach((sink, i) => {
    const spec = sinkSpec(sink, '.');
    if (typeof spec === 'string')
      throw new MoatError('MOAT_ERR_CONFIG_INVALID', `${where(['events', 'sinks', i])}: events.sinks[${i}]: ${spec}`);
  });
}
