// The chain's own nats-server's users, made at every `up`: one nkey pair per user (nats-auth.ts
// says which users and what each may do). The server's config file gets the public keys (0600, in
// the store directory); each process's seed goes into its own 0600 spec file (appFor); the
// supervisor's own seed (ADMIN_USER: `up`'s stream, `tap`) into <state>/nats/moat.seed, 0600. No
// seed is ever on a command line, in plan.json or in a log.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../hops/runtime/atomic-write';
import { ADMIN_USER, natsConfigFile, natsUsers, renderNatsConfig } from './nats-auth';
import type { NatsIdentity } from '../../hops/events/nats-url';
import { newUserNkey } from '../../hops/events/nkeys';
import { LINK_HOST, type Plan } from './plan';
import type { StateLayout } from './state';

function adminSeedFile(layout: StateLayout): string {
  return join(layout.natsDir, `${ADMIN_USER}.seed`);
}

/**
 * Makes the users' keys, writes nats.conf and the supervisor's seed; returns every user's seed (for the spec files).
 */
export function prepareNatsAuth(plan: Plan, layout: StateLayout): Record<string, string> {
  const nats = plan.services.find((p) => p.role === 'nats');
  if (!nats) throw new Error('prepareNatsAuth: the plan has no nats-server of its own');
  mkdirSync(layout.natsDir, { recursive: true, mode: 0o700 });
  const seeds: Record<string, string> = {};
  const publicKeys: Record<string, string> = {};
  for (const user of natsUsers(plan)) {
    const pair = newUserNkey();
    seeds[user] = pair.seed;
    publicKeys[user] = pair.publicKey;
  }
  const config = renderNatsConfig({
    chain: plan.chain,
    host: LINK_HOST,
    port: nats.port,
    storeDir: layout.natsDir,
    users: publicKeys,
  });
  writeFileAtomic(natsConfigFile(layout.natsDir), Buffer.from(config), { overwrite: true, mode: 0o600 });
  writeFileAtomic(adminSeedFile(layout), Buffer.from(seeds[ADMIN_USER] + '\n'), { overwrite: true, mode: 0o600 });
  return seeds;
}

/** The supervisor's identity on the chain's own nats-server (undefined on a shared NATS, events.nats_url). */
export function supervisorNatsIdentity(plan: Pick<Plan, 'services'>, layout: StateLayout): NatsIdentity | undefined {
  if (!(plan.services ?? []).some((p) => p.role === 'nats')) return undefined;
  try {
    return { natsUser: ADMIN_USER, natsSeed: readFileSync(adminSeedFile(layout), 'utf8').trim() };
  } catch {
    return undefined;
  }
}
