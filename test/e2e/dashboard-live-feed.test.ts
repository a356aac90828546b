// The dashboard reads events from NATS only while someone looks (supervisor/dashboard/live-feed.ts): against a real
// nats-server, nothing is read before a look, everything is while it lasts, nothing after the idle time, and the
// next look refills the book from the ledger (twice, for events still on their way into it).
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { LiveFeed } from '../../supervisor/dashboard/live-feed';
import { RequestBook } from '../../supervisor/dashboard/request-book';
import { LiveHub } from '../../supervisor/dashboard/sse';
import { freePort, waitForPort } from '../../supervisor/chain/ports';
import { encodeEvents } from '../../hops/events/wire';
import type { MoatEvent } from '../../schemas/generated/event';
import { event } from '../helpers/synthetic-events';
import { tmpDir } from '../helpers/tmp';

const SUBJECT = 'moat.test.events';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dashboard: events read from NATS only while someone looks', function () {
  this.timeout(30_000);
  const dir = tmpDir('moat-live-feed-');
  let nats: ChildProcess;
  let nc: NatsConnection;
  const feeds: LiveFeed[] = [];
  const hubs: LiveHub[] = [];

  before(async () => {
    const port = await freePort();
    nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-sd', join(dir.path, 'nats')], {
      stdio: 'ignore',
    });
    expect(await waitForPort(port, 10_000)).to.equal(true);
    nc = await connect({ servers: `nats://127.0.0.1:${port}` });
  });

  afterEach(() => {
    for (const f of feeds.splice(0)) f.close();
    for (const h of hubs.splice(0)) h.close();
  });

  after(async () => {
    await nc?.close();
    nats?.kill('SIGKILL');
    dir.remove();
  });

  async function publish(...events: MoatEvent[]): Promise<void> {
    nc.publish(SUBJECT, encodeEvents(events.map((e) => JSON.stringify(e))));
    await nc.flush();
    await sleep(100);
  }

  function feed(history: MoatEvent[], o: { always?: boolean; idleMs?: number } = {}) {
    const book = new RequestBook([]);
    const live = new LiveHub();
    let reads = 0;
    const f = new LiveFeed({
      nc,
      subject: SUBJECT,
      book,
      live,
      history: async () => {
        reads++;
        return history;
      },
      always: o.always ?? false,
      log: () => undefined,
      idleMs: o.idleMs ?? 300,
      secondReadMs: 200,
    });
    feeds.push(f);
    hubs.push(live);
    return { f, book, live, reads: () => reads };
  }

  it('reads nothing before a look, then the ledger (twice) and every event while it lasts', async () => {
    const { f, book, reads } = feed([event('old', 0, 'request')]);
    await publish(event('unseen', 0, 'request'));
    expect(f.subscribed).to.equal(false);
    expect(reads()).to.equal(0);
    expect(book.rows()).to.have.length(0);

    await f.viewed();
    expect(f.subscribed).to.equal(true);
    expect(reads()).to.equal(1);
    await publish(event('seen', 0, 'request'));
    expect(book.rows().map((r) => r.trace)).to.have.members(['old', 'seen']);
    await sleep(300);
    expect(reads()).to.equal(2);
  });

  it('stops reading once nothing looked for the idle time, and the next look refills the book', async () => {
    const history = [event('in-ledger', 0, 'request')];
    const { f, book, reads } = feed(history, { idleMs: 300 });
    await f.viewed();
    await sleep(1000); // the idle check runs every min(idle, 5 s): 300 ms here
    expect(f.subscribed).to.equal(false);
    await publish(event('while-idle', 0, 'request'));
    expect(book.rows().map((r) => r.trace)).to.deep.equal(['in-ledger']);

    history.push(event('while-idle', 0, 'request'));
    await f.viewed();
    expect(f.subscribed).to.equal(true);
    expect(reads()).to.be.greaterThan(2);
    expect(book.rows().map((r) => r.trace)).to.have.members(['in-ledger', 'while-idle']);
  });

  it('an open live stream keeps it reading; a central ledger reads from the start', async () => {
    const { f, live } = feed([], { idleMs: 300 });
    await f.viewed();
    // A page's live stream: a response the hub writes to.
    const fakeRes = {
      writeHead: () => undefined,
      write: () => true,
      end: () => undefined,
      on: () => undefined,
      writableLength: 0,
    };
    live.open(fakeRes as never, {});
    await sleep(1000);
    expect(f.subscribed).to.equal(true);

    const central = feed([], { always: true, idleMs: 300 });
    await sleep(100);
    expect(central.f.subscribed).to.equal(true);
    await publish(event('central', 0, 'request'));
    expect(central.book.rows().map((r) => r.trace)).to.deep.equal(['central']);
  });
});
