// The dashboard process under pm2: `node dist/supervisor/dashboard/main.js <spec.json>`.
// Wires the sources: events live from NATS while someone looks (a plain subscription, beside the ledger
// writer's durable consumer, which it never touches: live-feed.ts), the ledger for history and verification,
// pm2 for process states; then serves the page and the API on 127.0.0.1.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { connect, type NatsConnection } from 'nats';
import { SUBJECTS } from '../../hops/events/subjects';
import { readLedgerHealth } from '../ledger/health';
import { lookWith, type StreamLook } from '../ledger/stream-look';
import { natsConnection, FOLLOW_CLUSTER } from '../../hops/events/nats-url';
import { stateLayout } from '../chain/state';
import type { Plan } from '../chain/plan';
import type { DashboardSpec } from './spec';
import { RequestBook } from './request-book';
import { LiveHub } from './sse';
import { LedgerReader } from './ledger-reader';
import { LiveFeed } from './live-feed';
import { ProcessWatch } from './process-watch';
import { chainView, hopRefs } from './chain-view';
import { createDashboardServer } from './server';
import { exitWithParent } from '../../hops/runtime/parent-watch';
import { DASHBOARD_PAGE_FILE } from '../paths';

/** The page ships as it is written: read from the source tree, as the config schema is. */
export const PAGE_FILE = DASHBOARD_PAGE_FILE;
const STREAM_LOOK_MS = 5000;
/** Requests in memory come first from the ledger's newest events. */
const HISTORY_EVENTS = 20_000;

export async function runDashboard(
  spec: DashboardSpec,
  log: (line: string) => void,
): Promise<{ stop(): Promise<void> }> {
  const layout = stateLayout(spec.chain, spec.moatHome);
  const token = readFileSync(spec.tokenFile, 'utf8').trim();
  const plan = JSON.parse(readFileSync(layout.planFile, 'utf8')) as Plan;
  const book = new RequestBook(hopRefs(plan));
  const live = new LiveHub();
  const reader = new LedgerReader(layout, spec.chain, spec.centralLedger);
  const processes = new ProcessWatch(layout);
  await processes.start(log);

  const nc: NatsConnection = await connect({
    ...natsConnection(spec.natsUrl, spec),
    name: `moat-${spec.chain}-dashboard`,
    ...FOLLOW_CLUSTER,
    waitOnFirstConnect: true,
  });
  // On a shared NATS, where the stream is kept and whether it answers (a central chain has no writer to say so); at
  // most one look every STREAM_LOOK_MS. On the chain's own nats-server the dashboard's user may not ask.
  let looked: { at: number; look: Promise<StreamLook> } | undefined;
  const stream = async (): Promise<StreamLook | undefined> => {
    if (plan.services.some((p) => p.role === 'nats')) return undefined;
    if (!looked || Date.now() - looked.at > STREAM_LOOK_MS) looked = { at: Date.now(), look: lookWith(nc, spec.chain) };
    return looked.look;
  };
  const feed = new LiveFeed({
    nc,
    subject: SUBJECTS.chain(spec.chain),
    book,
    live,
    history: () => reader.events({}, HISTORY_EVENTS, { bodies: false }),
    always: spec.centralLedger === true,
    log,
  });

  const server: http.Server = createDashboardServer({
    token,
    page: readFileSync(PAGE_FILE, 'utf8'),
    live,
    log,
    viewed: () => feed.viewed(),
    sources: {
      book,
      chain: async () => {
        const health = readLedgerHealth(plan.services.find((p) => p.ledger)?.ledger?.healthFile);
        const look = await stream();
        return {
          ...chainView(plan, await processes.list()),
          ...(health ? { ledger: health } : {}),
          ...(look ? { stream: { line: look.line, ...(look.problem ? { problem: look.problem } : {}) } } : {}),
        };
      },
      ledgerEvents: (q, limit) => reader.events(q, limit),
      verify: () => reader.verify(),
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, spec.host, resolve);
  });
  log(`dashboard: http://${spec.host}:${spec.port}/`);

  return {
    async stop() {
      feed.close();
      live.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await nc.drain().catch(() => undefined);
      await processes.stop();
    },
  };
}

if (require.main === module) {
  exitWithParent(); // pm2's daemon gone: the chain has stopped (hops/runtime/parent-watch.ts)
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as DashboardSpec;
  runDashboard(spec, (l) => console.log(l)).then(
    (dashboard) => {
      const stop = () => dashboard.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: Error) => {
      console.error(`dashboard failed to start: ${err.message}`);
      process.exit(1);
    },
  );
}
