// The ledger writer's health, as a small 0600 file in the chain's state directory that `moat chain
// status` and the dashboard read: whether events are being stored, and if not why and since when.
// A writer that cannot consume (the stream or its consumer vanished, NATS away) does not crash (the
// hops keep their events spooled meanwhile, and it recovers by itself), so without this file nothing
// would show that the ledger has stopped recording.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../hops/runtime/atomic-write';

export interface LedgerHealth {
  /** starting: not yet consumed once; ok: consuming; failing: cannot consume (reason), recovering by itself. */
  state: 'starting' | 'ok' | 'failing';
  reason?: string;
  /** ISO time of the change to this state. */
  since: string;
}

export function readLedgerHealth(file: string | undefined): LedgerHealth | undefined {
  if (!file) return undefined;
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as LedgerHealth;
    return typeof h?.state === 'string' && typeof h.since === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** One line for status: "ok since …" / "FAILING since …: reason". */
export function describeLedgerHealth(h: LedgerHealth): string {
  if (h.state === 'failing')
    return (
      `FAILING since ${h.since}: ${h.reason ?? 'unknown reason'} (the hops keep their events spooled; the ` +
      `writer retries by itself)`
    );
  return `${h.state} since ${h.since}`;
}

/** Keeps the file up to date, writing only when the state or reason changes. */
export class LedgerHealthFile {
  private current?: LedgerHealth;

  constructor(
    private readonly file: string,
    private readonly log: (line: string) => void,
  ) {
    // What a previous run of the writer said: a writer that fails at start and is restarted by pm2 keeps saying so.
    this.current = readLedgerHealth(file);
  }

  get state(): LedgerHealth['state'] | undefined {
    return this.current?.state;
  }

  set(state: LedgerHealth['state'], reason?: string): void {
    if (this.current?.state === state && this.current.reason === reason) return;
    this.current = { state, ...(reason ? { reason } : {}), since: new Date().toISOString() };
    try {
      writeFileAtomic(this.file, Buffer.from(JSON.stringify(this.current) + '\n'), { overwrite: true, mode: 0o600 });
    } catch (err) {
      this.log(`ledger writer: cannot write ${this.file}: ${(err as Error).message}`);
    }
  }
}
