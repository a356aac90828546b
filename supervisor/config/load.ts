// Reads moat.yaml, checks it against schemas/chain-config.schema.json and fills defaults.
// Every problem is reported as file:line:column: key.path: message.
import { readFileSync, existsSync } from 'node:fs';
import type { ChainConfig } from '../../schemas/generated/chain-config';
import { MoatError } from '../errors';
import { parseAgainstSchema } from './yaml-schema';
import { resolveHops } from './hop-resolution';
import { checkSections } from './sections';
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
  checkSections(config, where);
  return { file, config, where };
}
