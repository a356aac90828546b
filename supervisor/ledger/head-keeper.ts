// The ledger writer's side of the heads outside the ledger (ledger/head.ts, ledger/head-kv.ts): at
// start it checks that the ledger still holds them, and refuses to append to one that does not
// (appending would bury the cut under new rows, and the next head would overwrite the evidence);
// after every checkpoint it writes the new head to the file at once and to NATS in the background,
// so a NATS that is away never holds up storing events.
import type { NatsConnection } from 'nats';
import { Ledger } from './ledger';
import { checkHead, headFile, newerHead, readHeadFile, writeHeadFile, type HeadRead, type SignedHead } from './head';
import { ensureHeadBucket, getHead, natsHeadSource, putHead } from './head-kv';

export interface HeadKeeperOptions {
  chain: string;
  dbFile: string;
  /** The key in the heads bucket: the writer's durable consumer's name. */
  key: string;
  nc: NatsConnection;
  log: (line: string) => void;
}

export class LedgerTamperedAtStart extends Error {}

export class HeadKeeper {
  private readonly file: string;
  /** The newest head written out (file), so that only a newer one replaces it. */
  private written?: SignedHead;
  /** The newest head NATS has, and the one waiting to go there. */
  private inNats?: SignedHead;
  private queued?: SignedHead;
  private putting?: Promise<void>;
  private natsProblem = '';

  constructor(private readonly o: HeadKeeperOptions) {
    this.file = headFile(o.dbFile);
  }

  /**
   * Checks the ledger against the heads outside it; throws LedgerTamperedAtStart when it does not hold one. Then writes
   * its newest checkpoint out where the copies outside are older or missing (a ledger of an older moat, a crash
   * between a checkpoint and its head). A ledger with no rows and no head file is a new one: a head NATS keeps of
   * a ledger moved aside is replaced at its first checkpoint.
   */
  async start(ledger: Ledger, publicKeyPem: string, newestCheckpoint: SignedHead | undefined): Promise<void> {
    const { chain, key, nc, log } = this.o;
    const fromFile = readHeadFile(this.file);
    let fromNats: HeadRead | undefined;
    try {
      await ensureHeadBucket(nc, chain);
      fromNats = await getHead(nc, chain, key);
    } catch (err) {
      this.saysNats(`cannot read or make the heads bucket: ${(err as Error).message}`);
    }
    const lastSeq = ledger.headSeq;
    const fresh = lastSeq === 0 && 'absent' in fromFile;
    const check = async (read: HeadRead | undefined, source: string): Promise<SignedHead | undefined> => {
      if (!read || 'absent' in read) return undefined;
      if ('invalid' in read) throw new LedgerTamperedAtStart(`${source}: ${read.invalid}`);
      const hashes = new Map<number, string | undefined>([[read.head.seq, await ledger.hashAt(read.head.seq)]]);
      const problem = checkHead(chain, read.head, source, lastSeq, (s) => hashes.get(s), publicKeyPem);
      if (problem) throw new LedgerTamperedAtStart(problem.detail);
      return read.head;
    };
    try {
      this.written = await check(fromFile, 'ledger-head.json');
      if (fresh && fromNats && 'head' in fromNats) {
        log(
          `ledger writer: a new ledger; ${natsHeadSource(chain, key)} holds the head of an earlier one (seq ` +
            `${fromNats.head.seq}), replaced at the first checkpoint`,
        );
      } else {
        this.inNats = await check(fromNats, natsHeadSource(chain, key));
      }
    } catch (err) {
      if (!(err instanceof LedgerTamperedAtStart)) throw err;
      throw new LedgerTamperedAtStart(
        `${this.o.dbFile} does not hold its signed head: ${err.message}. Not writing to it (that would bury ` +
          `the cut); \`moat chain verify\` (or \`moat ledger verify\`) says more. To start a new ledger, move ` +
          `${this.o.dbFile} and ${this.file} aside.`,
      );
    }
    const newest = newerHead(newerHead(this.written, this.inNats), newestCheckpoint);
    if (newest) this.record(newest);
  }

  /** A new checkpoint: the file now, NATS as soon as it answers. Never replaces a head by an older one. */
  record(head: SignedHead): void {
    if (
      !this.written ||
      head.seq > this.written.seq ||
      (head.seq === this.written.seq && head.hash !== this.written.hash)
    ) {
      try {
        writeHeadFile(this.file, head);
        this.written = head;
      } catch (err) {
        this.o.log(`ledger writer: cannot write ${this.file}: ${(err as Error).message}`);
      }
    }
    if (!this.inNats || head.seq > this.inNats.seq) {
      this.queued = head;
      this.putting ??= this.flush();
    }
  }

  /** Waits (at most `ms`) for the newest head to be in NATS. */
  async stop(ms = 3000): Promise<void> {
    if (this.queued) this.putting ??= this.flush();
    if (!this.putting) return;
    await Promise.race([this.putting, new Promise((r) => setTimeout(r, ms).unref())]);
  }

  private async flush(): Promise<void> {
    try {
      while (this.queued) {
        const head = this.queued;
        this.queued = undefined;
        try {
          await putHead(this.o.nc, this.o.chain, this.o.key, head);
          this.inNats = head;
          this.natsProblem = '';
        } catch (err) {
          this.saysNats(`cannot put the head: ${(err as Error).message}`);
          // Tried again with the next checkpoint (or at stop), unless a newer head is waiting already.
          this.queued ??= head;
          return;
        }
      }
    } finally {
      this.putting = undefined;
    }
  }

  private saysNats(problem: string): void {
    if (problem !== this.natsProblem)
      this.o.log(`ledger writer: ${natsHeadSource(this.o.chain, this.o.key)}: ${problem}`);
    this.natsProblem = problem;
  }
}
