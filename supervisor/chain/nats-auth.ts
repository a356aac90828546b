// Who may do what on the chain's own nats-server (pure: no keys made, no files written here;
// nats-credentials.ts does that). Without it any local process could publish made-up events on a
// hop's subject (hash-chained and signed into the ledger as if the hop had seen them), read every
// event live (bodies too, with capture.bodies), or delete the stream so the ledger silently stops.
//
// Every connection moat makes to its own NATS is a user of its own, authenticated by an nkey (the
// server's config holds public keys only, the seeds go to each process in its 0600 spec file), and
// may do only what its code needs; nats-server refuses everything else, and anonymous clients.
// Each user also gets an inbox prefix of its own (_INBOX_<user>): replies (JetStream acks, the
// ledger writer's fetched messages) go there, and no other user may subscribe to it.
import { join } from 'node:path';
import { SUBJECTS } from '../../hops/events/subjects';
import { inboxPrefix, type NatsIdentity } from '../../hops/events/nats-url';
import type { Plan } from './plan-types';
import { headStream, headSubject } from '../ledger/head-kv';

export { inboxPrefix };

/** The server's configuration file, in its store directory (written 0600 by `up`: nats-credentials.ts). */
export function natsConfigFile(natsDir: string): string {
  return join(natsDir, 'nats.conf');
}

/** The supervisor (`up`'s stream, `tap`): the only user that may also delete or purge the stream. */
export const ADMIN_USER = 'moat';
export const LEDGER_USER = 'ledger';
export const DASHBOARD_USER = 'dashboard';
export const TELEMETRY_USER = 'telemetry';
/** The process that records the boundary in front of hop k publishes as this user. */
export const recorderUser = (hop: number): string => `hop-${hop}`;

export interface NatsPermissions {
  publish: { allow: string[] } | { deny: string[] };
  subscribe: { allow: string[] };
}

/** The JetStream API subjects of one stream a ledger writer needs (nats.js 2.x on nats-server 2.9+). */
function ledgerApi(chain: string, consumer: string): string[] {
  const stream = SUBJECTS.stream(chain);
  const heads = headStream(chain);
  return [
    // jetstreamManager() asks for the account's JetStream info first.
    '$JS.API.INFO',
    // ensureStream: look, add, update; never delete or purge.
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.UPDATE.${stream}`,
    // ensureConsumer and the fetch loop: CREATE / INFO / DELETE / MSG.NEXT of its own durable consumer only.
    `$JS.API.CONSUMER.*.${stream}.${consumer}`,
    `$JS.API.CONSUMER.*.${stream}.${consumer}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${consumer}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
    // Acknowledgements of what it stored.
    `$JS.ACK.${stream}.${consumer}.>`,
    // The bucket of signed heads (ledger/head-kv.ts): look, make, read; put its own key only (no delete, no purge).
    `$JS.API.STREAM.INFO.${heads}`,
    `$JS.API.STREAM.CREATE.${heads}`,
    `$JS.API.STREAM.MSG.GET.${heads}`,
    headSubject(chain, consumer),
  ];
}

/**
 * The permission table: what each user may publish and subscribe to (deny everything else).
 * `user` is ADMIN_USER, LEDGER_USER, DASHBOARD_USER, TELEMETRY_USER or recorderUser(k).
 */
export function natsPermissions(chain: string, user: string): NatsPermissions {
  const inbox = `${inboxPrefix(user)}.>`;
  const everyEvent = SUBJECTS.chain(chain);
  if (user === ADMIN_USER) return { publish: { allow: ['$JS.API.>'] }, subscribe: { allow: [inbox, everyEvent] } };
  if (user === LEDGER_USER)
    return { publish: { allow: ledgerApi(chain, SUBJECTS.ledgerConsumer) }, subscribe: { allow: [inbox] } };
  // Plain subscriptions to the chain's subjects: they publish nothing at all.
  if (user === DASHBOARD_USER || user === TELEMETRY_USER)
    return { publish: { deny: ['>'] }, subscribe: { allow: [everyEvent] } };
  const m = /^hop-(\d+)$/.exec(user);
  if (m) {
    // Its own hop's subjects only; JetStream's publish acks come back to its inbox.
    return { publish: { allow: [SUBJECTS.hop(chain, Number(m[1]))] }, subscribe: { allow: [inbox] } };
  }
  throw new Error(`no NATS permissions defined for user "${user}"`);
}

/** The identities of a plan (spec parts with a NATS connection of their own), in plan order. */
function identities(plan: Plan): NatsIdentity[] {
  const found: NatsIdentity[] = [];
  for (const p of [...plan.services, ...plan.processes]) {
    if (p.ledger) found.push(p.ledger);
    if (p.dashboard) found.push(p.dashboard);
    if (p.spec?.events) found.push(p.spec.events);
    if (p.metrics) found.push(p.metrics);
  }
  return found;
}

/**
 * Gives every NATS connection of a plan its user, when moat runs its own nats-server (on a shared NATS,
 * events.nats_url, processes use the URL's credentials instead). Called by buildPlan.
 */
export function assignNatsUsers(plan: Plan): void {
  if (!plan.services.some((p) => p.role === 'nats')) return;
  for (const p of [...plan.services, ...plan.processes]) {
    if (p.ledger) p.ledger.natsUser = LEDGER_USER;
    if (p.dashboard) p.dashboard.natsUser = DASHBOARD_USER;
    if (p.spec?.events) p.spec.events.natsUser = recorderUser(p.spec.events.hop);
    if (p.metrics) p.metrics.natsUser = TELEMETRY_USER;
  }
}

/** Every user the chain's nats-server must know: the supervisor's, then the plan's, each once. */
export function natsUsers(plan: Plan): string[] {
  return [
    ...new Set([
      ADMIN_USER,
      ...identities(plan)
        .map((i) => i.natsUser)
        .filter((u): u is string => !!u),
    ]),
  ];
}

/** A copy of a spec part with each natsUser's seed beside it (what goes into the 0600 spec file). */
export function withNatsSeeds<T extends object>(spec: T, seeds: Readonly<Record<string, string>> | undefined): T {
  if (!seeds) return spec;
  const copy = JSON.parse(JSON.stringify(spec)) as T;
  const visit = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    const o = v as NatsIdentity & Record<string, unknown>;
    if (typeof o.natsUser === 'string' && seeds[o.natsUser]) o.natsSeed = seeds[o.natsUser];
    for (const child of Object.values(o)) visit(child);
  };
  visit(copy);
  return copy;
}

export interface NatsServerConfig {
  chain: string;
  host: string;
  port: number;
  storeDir: string;
  /** User name -> its nkey's public key. */
  users: Readonly<Record<string, string>>;
}

/**
 * The nats-server configuration file (the server's syntax accepts JSON values). It holds public keys only:
 * nothing in it, nor in the server's argv (`nats-server -c FILE`), lets anyone connect.
 */
export function renderNatsConfig(c: NatsServerConfig): string {
  const users = Object.entries(c.users).map(
    ([user, nkey]) =>
      `    # ${user}\n    { nkey: ${JSON.stringify(nkey)}, permissions: ` +
      `${JSON.stringify(natsPermissions(c.chain, user))} }`,
  );
  return [
    `# Written by \`moat chain up\` for chain ${c.chain}: its own nats-server. Regenerated at every up.`,
    `listen: ${JSON.stringify(`${c.host}:${c.port}`)}`,
    `jetstream { store_dir: ${JSON.stringify(c.storeDir)} }`,
    // nkey users only, so a client without one is refused (there is no no_auth_user).
    'authorization {',
    '  users = [',
    ...users,
    '  ]',
    '}',
    '',
  ].join('\n');
}
