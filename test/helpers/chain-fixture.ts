// The setup most end-to-end, security and resilience suites share, written once: called inside a mocha describe, it
// starts a fake provider and brings a chain up with a config pointing at it before the tests, and after them cleans
// the chain up, then stops the provider. Hooks the suite registers after the call run after these (mocha runs hooks
// in the order they are registered).
import { FakeProvider, type FakeProviderOptions } from '../fixtures/fake-provider';
import { CliChain, type CliResult } from './cli-chain';

export interface ChainFixtureOptions {
  /** The chain's config; `egressTo(provider.port)` sends its egress to the fake provider. */
  config: (provider: FakeProvider) => string;
  /** The chain's name and the environment added to its CLI (see CliChain). */
  name?: string;
  env?: NodeJS.ProcessEnv;
  /** How the fake provider answers (its Messages API for a real agent CLI). */
  provider?: FakeProviderOptions;
  /** `moat chain up -d` (the default) with this environment and these arguments added; false: the config is written
   * and the suite starts the chain itself. */
  up?: false | { env?: NodeJS.ProcessEnv; args?: string[] };
  /** Runs first after the tests, before the chain is cleaned up: closing an agent, killing a foreground `up`. */
  beforeCleanup?: () => unknown;
}

export function chainFixture(options: ChainFixtureOptions): {
  chain: CliChain;
  provider: FakeProvider;
  /** What `up` printed (once the before hook has run). */
  upResult: () => CliResult;
} {
  const chain = new CliChain(options.name, options.env);
  const provider = new FakeProvider(options.provider);
  let upResult: CliResult;

  before(async () => {
    await provider.start();
    chain.writeConfig(options.config(provider));
    if (options.up !== false) upResult = await chain.up(options.up?.env, options.up?.args);
  });

  after(async () => {
    await options.beforeCleanup?.();
    await chain.cleanup();
    await provider.stop();
  });

  return { chain, provider, upResult: () => upResult };
}
