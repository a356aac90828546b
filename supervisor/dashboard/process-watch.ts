// pid, state and restarts of the chain's processes, from the chain's own pm2 daemon (the one that
// runs this process). One connection for the dashboard's life: connecting anew could spawn a
// fresh daemon while `down` is stopping this one.
import { daemonPid } from '../chain/lifecycle';
import { Pm2Session, type Pm2Process } from '../chain/pm2-session';
import type { StateLayout } from '../chain/state';

const CACHE_MS = 1000;
const LIST_TIMEOUT_MS = 2000;

export class ProcessWatch {
  private session?: Pm2Session;
  private cached?: { at: number; list: Promise<Pm2Process[] | undefined> };

  constructor(private readonly layout: StateLayout) {}

  async start(log: (line: string) => void): Promise<void> {
    if (daemonPid(this.layout) === undefined)
      return log('dashboard: no pm2 daemon for this chain; process states stay unknown');
    const session = new Pm2Session(this.layout.pm2Home);
    try {
      await session.connect();
      this.session = session;
    } catch (err) {
      log(`dashboard: cannot reach pm2: ${(err as Error).message}`);
    }
  }

  /** What pm2 lists, at most a second old; undefined when pm2 does not answer. */
  list(now = Date.now()): Promise<Pm2Process[] | undefined> {
    if (!this.session) return Promise.resolve(undefined);
    if (!this.cached || now - this.cached.at > CACHE_MS) {
      const timeout = new Promise<undefined>((resolve) =>
        setTimeout(() => resolve(undefined), LIST_TIMEOUT_MS).unref(),
      );
      this.cached = { at: now, list: Promise.race([this.session.list().catch(() => undefined), timeout]) };
    }
    return this.cached.list;
  }

  async stop(): Promise<void> {
    await this.session?.disconnect().catch(() => undefined);
  }
}
