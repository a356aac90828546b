// What the dashboard process is told at start (written to <state>/run/dashboard.json by `up`).
// Everything else it needs (plan, ledger, pm2 home) follows from the chain's state layout.

import type { NatsIdentity } from '../../hops/events/nats-url';

export interface DashboardSpec extends NatsIdentity {
  chain: string;
  /** MOAT_HOME of the chain: the process starts with a clean environment, so it is passed here. */
  moatHome: string;
  natsUrl: string;
  /** Always 127.0.0.1: the dashboard shows what passed the chain and must not be reachable from elsewhere. */
  host: string;
  port: number;
  /** The dashboard's own random token (0600), separate from the chain token. */
  tokenFile: string;
  /**
   * events.ledger: central: the ledger is written elsewhere (`moat ledger serve`); live events still come from NATS.
   */
  centralLedger?: true;
}

/** The address `up` and `status` print: the token in the query, which the page then keeps in a cookie. */
export function dashboardUrl(port: number, token: string): string {
  return `http://127.0.0.1:${port}/?token=${token}`;
}
