// Reads moat.yaml, checks it against schemas/chain-config.schema.json and fills defaults.
// Every problem is reported as file:line:column: key.path: message.
import { readFileSync, existsSync } from 'node:fs';
import type { ChainConfig } from '../../schemas/generated/chain-config';
import type { JsonPath } from './schema-check';
import { MoatError } from '../errors';
import { parseAgainstSchema } from './yaml-schema';
import { resolveHops } from './hop-resolution';
import { checkGrants } from './grants';
import { checkPolicy } from './policy';
import { checkTelemetry } from './telemetry';
import { checkIntercept } from './tls';
import { CHAIN_CONFIG_SCHEMA_FILE } from '../paths';

export const CONFIG_SCHEMA = JSON.parse(readFileSync(CHAIN_CONFIG_SCHEMA_FILE, 'utf8'));

export type { LoadedConfig, ResolvedConfig } from './types';
import type { LoadedConfig, ResolvedConfig } from './types';

export const DEFAULT_CONFIG_FILE = 'moat.yaml';

export function loadConfigFile(file: string = DEFAULT_CONFIG_FILE): LoadedConfig {
  if (!existsSync(file)) {
    throw new MoatError(
      'MOAT_ERR_CONFIG_NOT_FOUND',
      `${file}: no such file (write one, or name another with -f FILE; see docs/configuration.md)`,
    );
  }
  return parseConfig(readFileSync(file, 'utf8'), file);
}

export function parseConfig(text: string, file: string): LoadedConfig {
  const { data, where } = parseAgainstSchema<ChainConfig>(text, file, CONFIG_SCHEMA, {
    syntax: 'MOAT_ERR_CONFIG_SYNTAX',
    invalid: 'MOAT_ERR_CONFIG_INVALID',
  });
  const config = data as unknown as ResolvedConfig;
  config.proxies = resolveHops(data.proxies, where);
  checkGrants(config, where);
  checkPolicy(config, where);
  checkExposedHops(config, where);
  checkTelemetry(config, where);
  checkIntercept(config, where);
  checkCentralLedger(config, where);
  return { file, config, where };
}

/**
 * A central ledger is written by `moat ledger serve` from a shared NATS: the chain's own loopback nats-server is out of
 * its reach.
 */
function checkCentralLedger(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  if (config.events.ledger === 'central' && !config.events.nats_url) {
    throw new MoatError(
      'MOAT_ERR_LEDGER_NEEDS_NATS_URL',
      `${where(['events', 'ledger'])}: events.ledger: central needs events.nats_url, the shared NATS that \`moat ledger serve\` reads (the chain's own nats-server listens on loopback only); set it, or remove events.ledger for a local ledger`,
    );
  }
}

/**
 * Egress adds a granted key to requests that carry none, so with grants every hop is a way to spend the key:
 * a hop that other machines can reach (it listens on every interface) would let them. Refused, not warned.
 */
function checkExposedHops(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  if (!config.grants?.length) return;
  const messages = config.proxies.flatMap((hop, i) =>
    // Isolated, "every interface" is its namespace's loopback, reached only through moat's wrapper on 127.0.0.1.
    typeof hop !== 'string' && hop.listens_on_all_interfaces && hop.isolation !== 'netns'
      ? [
          `${where(['proxies', i])}: proxies[${i}]: "${hop.name}" listens on every network interface, and with grants: egress adds your key to what it forwards, so other machines could spend it; remove grants: or this hop`,
        ]
      : [],
  );
  if (messages.length) throw new MoatError('MOAT_ERR_GRANT_INVALID', messages.join('\n'));
}
