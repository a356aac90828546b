// The loaded config's types, apart from the loader so that each section's checks (grants, policy, telemetry, tls)
// and the plan can name them without importing the loader that calls them.
import type { ChainConfig } from '../../schemas/generated/chain-config';
import type { JsonPath } from './schema-check';
import type { ThirdPartyHop } from './hop-resolution';

/** ChainConfig with every default filled in. */
export type ResolvedConfig = Omit<ChainConfig, 'proxies'> & {
  /** Built-in hop names, and third-party hops with their manifest (if any) merged in. */
  proxies: (string | ThirdPartyHop)[];
  name: string;
  ingress: {
    port: number;
    body_timeout_s: number;
    allow_in_paths: NonNullable<NonNullable<ChainConfig['ingress']>['allow_in_paths']>;
  };
  policy: NonNullable<ChainConfig['policy']> & { rules: NonNullable<NonNullable<ChainConfig['policy']>['rules']> };
  egress: Required<NonNullable<ChainConfig['egress']>>;
  events: NonNullable<ChainConfig['events']> & { queue_size: number; ledger: 'local' | 'central' };
  capture: Required<NonNullable<ChainConfig['capture']>>;
  /** {} when absent (the loader fills sections in). */
  telemetry: NonNullable<ChainConfig['telemetry']>;
  dashboard: Required<NonNullable<ChainConfig['dashboard']>>;
  tls: Required<NonNullable<ChainConfig['tls']>>;
};

export interface LoadedConfig {
  file: string;
  config: ResolvedConfig;
  /** "file:line:col" of a key path, for messages found after loading (plan, up). */
  where(path: JsonPath): string;
}
