// Invariants 5 and 6 on the chain's own NATS: every client authenticates, each process may do only
// what its code needs, and the ledger holds only events their recording process could have seen.
// Before NATS authorization, any local process could publish made-up events on a hop's subject
// (signed into the ledger, `verify` ok), read every event live, and delete the stream.
import { expect } from 'chai';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection, type NatsError } from 'nats';
import { egressTo, processesMentioning } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { natsConnection, type NatsIdentity } from '../../hops/events/nats-url';
import { encodeEvents } from '../../hops/events/wire';
import { SUBJECTS } from '../../hops/events/subjects';
import type { MoatEvent } from '../../schemas/generated/event';
import { queryEvents } from '../../supervisor/ledger/commands';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path);
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

/** Every natsSeed anywhere in a JSON value. */
function seedsIn(v: unknown): string[] {
  if (!v || typeof v !== 'object') return [];
  const o = v as Record<string, unknown>;
  return [...(typeof o.natsSeed === 'string' ? [o.natsSeed] : []), ...Object.values(o).flatMap(seedsIn)];
}

function forged(fields: Partial<MoatEvent>): MoatEvent {
  return {
    id: `forged-${randomBytes(8).toString('hex')}`,
    chain: 'default',
    trace: randomBytes(16).toString('hex'),
    hop: 2,
    hop_name: 'moat-policy',
    boundary: 1,
    direction: 'request',
    time: new Date().toISOString(),
    method: 'POST',
    scheme: 'https',
    host: 'api.anthropic.com',
    port: 443,
    path: '/made-up',
    correlation: 'exact',
    ...fields,
  } as MoatEvent;
}

describe('security: NATS authenticates every client and each process may do only its part', function () {
  this.timeout(120_000);
  const { chain } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry, moat-policy]
capture:
  bodies: full
${egressTo(provider.port)}
`,
  });
  let natsUrl = '';
  const forgedIds: string[] = [];
  let sent = 0;

  const spec = (id: string) => JSON.parse(readFileSync(join(chain.layout.runDir, `${id}.json`), 'utf8'));
  const as = (who: NatsIdentity | undefined): Promise<NatsConnection> =>
    connect({ ...natsConnection(natsUrl, who), timeout: 3000 });
  const request = async (n: number) => {
    const agent = await chain.agent();
    for (let i = 0; i < n; i++) {
      const res = await timedRequest(agent, `https://api.anthropic.com/v1/messages`, {
        method: 'POST',
        body: JSON.stringify({
          model: 'claude-x',
          max_tokens: 5,
          messages: [{ role: 'user', content: `real ${sent}` }],
        }),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).to.equal(200);
      sent++;
    }
    await agent.close();
  };
  const ledgerEvents = async (): Promise<MoatEvent[]> => {
    return queryEvents(chain.layout, {});
  };

  before(async () => {
    natsUrl = JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).natsUrl;
    await request(2);
  });

  it('refuses a client without credentials', async () => {
    let error: NatsError | undefined;
    await as(undefined).then(
      (nc) => nc.close(),
      (err: NatsError) => (error = err),
    );
    expect(error?.code).to.equal('AUTHORIZATION_VIOLATION');
  });

  it("hop 1's credential cannot publish on hop 2's subject, touch the stream, or read events", async () => {
    const hop1 = spec('1-moat-telemetry').events;
    expect(hop1.natsUser).to.equal('hop-1');
    const nc = await as(hop1);
    const violations: string[] = [];
    const refusedSubs: string[] = [];
    (async () => {
      for await (const s of nc.status()) if (s.type === 'error') violations.push(String(s.data));
    })().catch(() => undefined);
    try {
      // Publishing on another hop's subject: refused by the server (a JetStream publish gets no ack).
      const event = forged({});
      forgedIds.push(event.id);
      const js = nc.jetstream();
      let published = true;
      await js
        .publish(SUBJECTS.burst('default', 2), encodeEvents([JSON.stringify(event)]), { timeout: 1500 })
        .catch(() => (published = false));
      expect(published).to.equal(false);
      const single = forged({});
      forgedIds.push(single.id);
      nc.publish(SUBJECTS.event('default', 2, 'request'), new TextEncoder().encode(JSON.stringify(single)));

      // The stream: no JetStream API at all (delete, purge, info).
      let managed = true;
      await nc
        .jetstreamManager()
        .then(
          (jsm) => jsm.streams.delete(SUBJECTS.stream('default')),
          () => (managed = false),
        )
        .catch(() => (managed = false));
      expect(managed).to.equal(false);
      await nc.request(`$JS.API.STREAM.DELETE.${SUBJECTS.stream('default')}`, undefined, { timeout: 1000 }).then(
        () => expect.fail('the stream delete request was answered'),
        () => undefined,
      );
      await nc.request(`$JS.API.STREAM.PURGE.${SUBJECTS.stream('default')}`, undefined, { timeout: 1000 }).then(
        () => expect.fail('the stream purge request was answered'),
        () => undefined,
      );

      // Reading: neither the chain's subjects nor other users' inboxes (where the ledger writer's fetches land).
      let read = 0;
      for (const subject of [SUBJECTS.chain('default'), '_INBOX.>', '_INBOX_ledger.>', '>']) {
        const sub = nc.subscribe(subject);
        (async () => {
          for await (const _ of sub) read++;
        })().catch((err: Error) => refusedSubs.push(err.message));
      }
      await nc.flush().catch(() => undefined);
      await request(1);
      await sleep(500);
      expect(read).to.equal(0);
    } finally {
      await nc.close().catch(() => undefined);
    }
    expect(violations).to.include('PERMISSIONS_VIOLATION');
    expect(refusedSubs.sort()).to.deep.equal(
      ['>', '_INBOX.>', '_INBOX_ledger.>', 'moat.default.>']
        .map((s) => `'Permissions Violation for Subscription to "${s}"'`)
        .sort(),
    );

    // The stream is still there (the supervisor's own credential may look).
    const admin = await as({
      natsUser: 'moat',
      natsSeed: readFileSync(join(chain.layout.natsDir, 'moat.seed'), 'utf8').trim(),
    });
    const info = await (await admin.jetstreamManager()).streams.info(SUBJECTS.stream('default'));
    expect(info.config.subjects).to.deep.equal([SUBJECTS.chain('default')]);
    await admin.close();
  });

  it("the readers (dashboard, moat-telemetry's metrics process) cannot publish", async () => {
    for (const who of [spec('dashboard'), spec('metrics')]) {
      const nc = await as(who);
      const event = forged({ hop: 1, boundary: 0, hop_name: 'moat-telemetry' });
      forgedIds.push(event.id);
      let published = true;
      await nc
        .jetstream()
        .publish(SUBJECTS.burst('default', 1), encodeEvents([JSON.stringify(event)]), { timeout: 1500 })
        .catch(() => (published = false));
      expect(published, who.natsUser).to.equal(false);
      await nc.close();
    }
  });

  it('an event on its own subject naming another hop, boundary or chain is refused by the writer', async () => {
    const nc = await as(spec('1-moat-telemetry').events);
    const events = [
      forged({ hop: 2, boundary: 1 }),
      forged({ hop: 1, boundary: 1 }),
      forged({ hop: 1, boundary: 0, chain: 'other' }),
    ];
    forgedIds.push(...events.map((e) => e.id));
    // JetStream stores it (the subject is hop 1's own); the writer reads it and refuses it.
    const ack = await nc
      .jetstream()
      .publish(SUBJECTS.burst('default', 1), encodeEvents(events.map((e) => JSON.stringify(e))));
    expect(ack.stream).to.equal(SUBJECTS.stream('default'));
    await nc.close();
    const log = join(chain.layout.logDir, 'ledger.log');
    for (
      let i = 0;
      i < 100 && !readFileSync(log, 'utf8').includes('refused 3 event(s) on moat.default.hop.1.events');
      i++
    )
      await sleep(50);
    expect(readFileSync(log, 'utf8')).to.match(
      /refused 3 event\(s\) on moat\.default\.hop\.1\.events: the event says hop 2, the subject hop 1/,
    );
  });

  it('after every attack the ledger holds only the real events, and verify passes', async () => {
    // Three boundaries (hop 1, hop 2, egress), request and response each.
    let events: MoatEvent[] = [];
    for (let i = 0; i < 100; i++) {
      events = await ledgerEvents();
      if (events.length >= sent * 6) break;
      await sleep(100);
    }
    expect(events.map((e) => e.id)).to.not.include.members(forgedIds);
    expect(events.filter((e) => forgedIds.includes(e.id) || e.path === '/made-up')).to.deep.equal([]);
    expect(events).to.have.length(sent * 6);
    expect(new Set(events.map((e) => e.trace)).size).to.equal(sent);
    for (const e of events) expect(e.boundary, JSON.stringify(e)).to.equal(e.hop - 1);
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });

  it(
    'no NATS secret on any command line, in plan.json, plan ' + 'output or the logs; nats.conf holds public keys only',
    async () => {
      const seeds = [
        ...readdirSync(chain.layout.runDir)
          .filter((n) => n.endsWith('.json'))
          .flatMap((n) => seedsIn(spec(n.slice(0, -5)))),
        readFileSync(join(chain.layout.natsDir, 'moat.seed'), 'utf8').trim(),
      ];
      // hop-1, hop-2, hop-3, telemetry, ledger, dashboard, and the supervisor's own.
      expect(new Set(seeds).size).to.equal(7);
      for (const s of seeds) expect(s).to.match(/^SU[A-Z2-7]{40,}$/);
      const looked: string[] = [];
      for (const pid of processesMentioning(chain.home)) {
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          continue;
        }
        looked.push(cmdline.split('\0').join(' '));
        for (const s of seeds) expect(cmdline, `pid ${pid}`).to.not.contain(s);
      }
      expect(
        looked.some((c) => /nats-server -c \S+nats\.conf/.test(c)),
        looked.join('\n'),
      ).to.equal(true);
      const conf = join(chain.layout.natsDir, 'nats.conf');
      expect(statSync(conf).mode & 0o777).to.equal(0o600);
      expect(statSync(join(chain.layout.natsDir, 'moat.seed')).mode & 0o777).to.equal(0o600);
      const plan = await chain.cli(['plan', '--json']);
      const texts = [
        readFileSync(chain.layout.planFile, 'utf8'),
        plan.stdout,
        readFileSync(conf, 'utf8'),
        ...filesUnder(chain.layout.logDir).map((f) => readFileSync(f, 'utf8')),
      ];
      for (const text of texts) for (const s of seeds) expect(text).to.not.contain(s);
      expect(readFileSync(chain.layout.planFile, 'utf8')).to.not.contain('natsSeed');
      for (const n of readdirSync(chain.layout.runDir).filter((x) => x.endsWith('.json')))
        expect(statSync(join(chain.layout.runDir, n)).mode & 0o777).to.equal(0o600);
    },
  );
});
