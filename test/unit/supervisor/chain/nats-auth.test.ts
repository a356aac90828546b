// The chain's own NATS: the permission table, the server's config, which connection is which user,
// seeds only in spec files; and the ledger writer's check of an event against its subject. Pure.
import { expect } from 'chai';
import { displayPlan } from '../../../../supervisor/chain/plan';
import {
  natsPermissions,
  renderNatsConfig,
  natsUsers,
  withNatsSeeds,
  natsConfigFile,
  ADMIN_USER,
  recorderUser,
} from '../../../../supervisor/chain/nats-auth';
import { originProblem } from '../../../../supervisor/ledger/event-origin';
import { parseEventSubject } from '../../../../hops/events/subjects';
import { natsConnection, inboxPrefix } from '../../../../hops/events/nats-url';
import { describeLedgerHealth, LedgerHealthFile, readLedgerHealth } from '../../../../supervisor/ledger/health';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../../../helpers/tmp';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

const plan = (yaml: string) => planFromYaml(yaml, undefined, { file: 'moat.yaml' });

/** NATS subject matching: `*` one token, `>` the rest (one or more tokens). */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

function mayPublish(chain: string, user: string, subject: string): boolean {
  const pub = natsPermissions(chain, user).publish;
  return 'allow' in pub ? pub.allow.some((p) => matches(p, subject)) : !pub.deny.some((p) => matches(p, subject));
}

function maySubscribe(chain: string, user: string, subject: string): boolean {
  return natsPermissions(chain, user).subscribe.allow.some((p) => matches(p, subject));
}

describe('NATS authorization: the permission table', () => {
  const S = 'MOAT_my_chain';
  const publishing = [
    'moat.my-chain.hop.1.events',
    'moat.my-chain.hop.2.events',
    'moat.my-chain.hop.2.request',
    'moat.other.hop.1.events',
    `$JS.API.INFO`,
    `$JS.API.STREAM.INFO.${S}`,
    `$JS.API.STREAM.CREATE.${S}`,
    `$JS.API.STREAM.UPDATE.${S}`,
    `$JS.API.STREAM.DELETE.${S}`,
    `$JS.API.STREAM.PURGE.${S}`,
    `$JS.API.STREAM.CREATE.MOAT_other`,
    `$JS.API.CONSUMER.CREATE.${S}.ledger`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${S}.ledger`,
    `$JS.API.CONSUMER.INFO.${S}.ledger`,
    `$JS.API.CONSUMER.MSG.NEXT.${S}.ledger`,
    `$JS.API.CONSUMER.CREATE.${S}.spy`,
    `$JS.API.CONSUMER.MSG.NEXT.${S}.spy`,
    `$JS.ACK.${S}.ledger.1.5.5.1700000000000000000.0`,
  ];
  const allowed = (user: string) => publishing.filter((s) => mayPublish('my-chain', user, s));

  it('a recording process publishes on its own hop only, and nothing of the JetStream API', () => {
    expect(allowed(recorderUser(1))).to.deep.equal(['moat.my-chain.hop.1.events']);
    expect(allowed(recorderUser(2))).to.deep.equal(['moat.my-chain.hop.2.events', 'moat.my-chain.hop.2.request']);
    // It reads nothing but its own inbox (JetStream's acks of what it published).
    expect(maySubscribe('my-chain', 'hop-1', 'moat.my-chain.hop.1.events')).to.equal(false);
    expect(maySubscribe('my-chain', 'hop-1', '_INBOX.abc')).to.equal(false);
    expect(maySubscribe('my-chain', 'hop-1', '_INBOX_ledger.abc')).to.equal(false);
    expect(maySubscribe('my-chain', 'hop-1', '_INBOX_hop-1.abc.1')).to.equal(true);
  });

  it('the ledger writer manages its own stream and consumer but cannot delete or purge, nor publish events', () => {
    expect(allowed('ledger')).to.deep.equal([
      `$JS.API.INFO`,
      `$JS.API.STREAM.INFO.${S}`,
      `$JS.API.STREAM.CREATE.${S}`,
      `$JS.API.STREAM.UPDATE.${S}`,
      `$JS.API.CONSUMER.CREATE.${S}.ledger`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${S}.ledger`,
      `$JS.API.CONSUMER.INFO.${S}.ledger`,
      `$JS.API.CONSUMER.MSG.NEXT.${S}.ledger`,
      `$JS.ACK.${S}.ledger.1.5.5.1700000000000000000.0`,
    ]);
    expect(maySubscribe('my-chain', 'ledger', 'moat.my-chain.hop.1.events')).to.equal(false);
    expect(maySubscribe('my-chain', 'ledger', '_INBOX_ledger.x.y')).to.equal(true);
  });

  it("the dashboard and moat-telemetry read the chain's subjects and publish nothing", () => {
    for (const user of ['dashboard', 'telemetry']) {
      expect(allowed(user), user).to.deep.equal([]);
      expect(maySubscribe('my-chain', user, 'moat.my-chain.hop.3.events')).to.equal(true);
      expect(maySubscribe('my-chain', user, 'moat.other.hop.3.events')).to.equal(false);
      expect(maySubscribe('my-chain', user, '_INBOX_ledger.x')).to.equal(false);
    }
  });

  it('only the supervisor may delete or purge the stream; it publishes no events', () => {
    expect(allowed(ADMIN_USER)).to.include.members([
      `$JS.API.STREAM.DELETE.${S}`,
      `$JS.API.STREAM.PURGE.${S}`,
      `$JS.API.STREAM.CREATE.${S}`,
    ]);
    expect(allowed(ADMIN_USER).filter((s) => s.startsWith('moat.'))).to.deep.equal([]);
    expect(maySubscribe('my-chain', ADMIN_USER, 'moat.my-chain.hop.2.events')).to.equal(true);
    for (const user of ['ledger', 'dashboard', 'telemetry', 'hop-1']) {
      expect(mayPublish('my-chain', user, `$JS.API.STREAM.DELETE.${S}`), user).to.equal(false);
    }
  });

  it('an unknown user has no permissions (an error, not everything)', () => {
    expect(() => natsPermissions('c', 'hop-x')).to.throw(/hop-x/);
  });
});

describe('NATS authorization: the plan and the server config', () => {
  it(
    'gives every NATS connection of a chain with its own ' + 'nats-server a user; nats-server runs from a config file',
    () => {
      const p = plan('proxies: [moat-telemetry, moat-policy]\n');
      const nats = p.services.find((s) => s.role === 'nats')!;
      expect(nats.command).to.deep.equal(['nats-server', '-c', natsConfigFile('/h/chains/default/nats')]);
      expect(p.processes.map((x) => x.spec?.events?.natsUser)).to.deep.equal([undefined, 'hop-1', 'hop-2', 'hop-3']);
      expect(p.services.find((s) => s.metrics)!.metrics!.natsUser).to.equal('telemetry');
      expect(p.services.find((s) => s.ledger)!.ledger!.natsUser).to.equal('ledger');
      expect(p.services.find((s) => s.dashboard)!.dashboard!.natsUser).to.equal('dashboard');
      expect(natsUsers(p)).to.deep.equal(['moat', 'ledger', 'dashboard', 'telemetry', 'hop-1', 'hop-2', 'hop-3']);
      // The plan names users only: no secret in it, nor in what is shown.
      expect(JSON.stringify(displayPlan(p, 'T'))).to.not.contain('natsSeed');
    },
  );

  it("on a shared NATS (events.nats_url) processes keep the URL's credentials: no users assigned", () => {
    const p = plan('proxies: [moat-telemetry]\nevents:\n  nats_url: nats://u:p@nats.example:4222\n');
    expect(p.services.some((s) => s.role === 'nats')).to.equal(false);
    expect(JSON.stringify(p)).to.not.contain('natsUser');
  });

  it("puts each user's seed beside its user name, in a copy", () => {
    const p = plan('proxies: [moat-telemetry]\n');
    const spec = p.processes[1].spec!;
    const seeds = { 'hop-1': 'SUHOP1', telemetry: 'SUTEL', ledger: 'SULED' };
    const seeded = withNatsSeeds(spec, seeds);
    expect(seeded.events!.natsSeed).to.equal('SUHOP1');
    expect(JSON.stringify(seeded)).to.not.contain('SULED');
    expect(JSON.stringify(seeded)).to.not.contain('SUTEL');
    expect(spec.events!.natsSeed).to.equal(undefined);
    expect(withNatsSeeds(spec, undefined)).to.equal(spec);
    const metrics = p.services.find((s) => s.metrics)!.metrics!;
    expect(withNatsSeeds(metrics, seeds).natsSeed).to.equal('SUTEL');
    expect(JSON.stringify(withNatsSeeds(metrics, seeds))).to.not.contain('SUHOP1');
  });

  it('renders a config with the listen address, the store, and one nkey user per process with its permissions', () => {
    const text = renderNatsConfig({
      chain: 'c',
      host: '127.0.0.1',
      port: 4222,
      storeDir: '/s/nats',
      users: { moat: 'UADMIN', 'hop-1': 'UHOP1' },
    });
    expect(text).to.contain('listen: "127.0.0.1:4222"');
    expect(text).to.contain('jetstream { store_dir: "/s/nats" }');
    expect(text).to.contain(`{ nkey: "UHOP1", permissions: ${JSON.stringify(natsPermissions('c', 'hop-1'))} }`);
    expect(text).to.contain('{ nkey: "UADMIN"');
    expect(text).to.not.match(/no_auth_user|password/);
  });

  it("connects with the nkey and the user's own inbox when the spec names one, else with the URL's credentials", () => {
    const seed = 'SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU';
    const o = natsConnection('nats://127.0.0.1:4222', { natsUser: 'hop-1', natsSeed: seed });
    expect(o.servers).to.deep.equal(['nats://127.0.0.1:4222']);
    expect(o.inboxPrefix).to.equal(inboxPrefix('hop-1'));
    expect(o.authenticator).to.be.a('function');
    expect(o.user).to.equal(undefined);
    expect(natsConnection('nats://u:p@h:4222', { natsUser: 'hop-1' })).to.deep.equal({
      servers: ['nats://h:4222'],
      user: 'u',
      pass: 'p',
    });
  });
});

describe('ledger writer: an event must say what its subject says', () => {
  const ok = { chain: 'c', hop: 2, boundary: 1, direction: 'request' };

  it('parses event subjects', () => {
    expect(parseEventSubject('moat.my-c.hop.3.events')).to.deep.equal({ chain: 'my-c', hop: 3, kind: 'events' });
    expect(parseEventSubject('moat.c.hop.1.response')).to.deep.equal({ chain: 'c', hop: 1, kind: 'response' });
    expect(parseEventSubject('moat.c.hop.x.events')).to.equal(undefined);
    expect(parseEventSubject('moat.c.hop.1.events.more')).to.equal(undefined);
  });

  it("accepts an event of the publishing process's chain, hop and boundary", () => {
    expect(originProblem('c', 'moat.c.hop.2.events', ok)).to.equal(undefined);
    expect(originProblem('c', 'moat.c.hop.2.events', { ...ok, direction: 'gap' })).to.equal(undefined);
    expect(originProblem('c', 'moat.c.hop.2.request', ok)).to.equal(undefined);
    // Egress of a two-hop chain: hop 3, boundary 2.
    expect(originProblem('c', 'moat.c.hop.3.events', { ...ok, hop: 3, boundary: 2 })).to.equal(undefined);
  });

  it("refuses another hop, boundary, chain or direction than the subject's, naming both", () => {
    expect(originProblem('c', 'moat.c.hop.1.events', ok)).to.equal('the event says hop 2, the subject hop 1');
    expect(originProblem('c', 'moat.c.hop.2.events', { ...ok, boundary: 0 })).to.match(
      /boundary 0.*records boundary 1/,
    );
    expect(originProblem('c', 'moat.c.hop.2.events', { ...ok, chain: 'd' })).to.match(/chain "d"/);
    expect(originProblem('c', 'moat.c.hop.2.events', { ...ok, chain: undefined })).to.match(/chain undefined/);
    expect(originProblem('c', 'moat.c.hop.2.response', ok)).to.match(/direction "request", the subject response/);
    expect(originProblem('c', 'moat.d.hop.2.events', { ...ok, chain: 'd' })).to.match(/chain "d"'s/);
    expect(originProblem('c', 'moat.c.other', ok)).to.match(/not an event subject/);
    expect(originProblem('c', 'moat.c.hop.2.events', { ...ok, hop: '2' })).to.match(/hop "2"/);
  });
});

describe('ledger health as status shows it', () => {
  it('says failing with its reason and that events wait in the hops', () => {
    expect(
      describeLedgerHealth({ state: 'failing', reason: 'stream MOAT_c not found', since: '2026-01-01T00:00:00.000Z' }),
    ).to.match(/^FAILING since 2026-01-01T00:00:00.000Z: stream MOAT_c not found \(the hops keep their events spooled/);
    expect(describeLedgerHealth({ state: 'ok', since: 'T' })).to.equal('ok since T');
  });

  it('is a 0600 file written on changes only, and a restarted writer keeps a failure it finds', async () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'ledger-health.json');
      const lines: string[] = [];
      const h = new LedgerHealthFile(file, (l) => lines.push(l));
      expect(h.state).to.equal(undefined);
      h.set('failing', 'stream gone');
      const first = readLedgerHealth(file)!;
      expect(first).to.include({ state: 'failing', reason: 'stream gone' });
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      await new Promise((r) => setTimeout(r, 5));
      h.set('failing', 'stream gone');
      expect(readLedgerHealth(file)!.since).to.equal(first.since);
      expect(new LedgerHealthFile(file, () => undefined).state).to.equal('failing');
      h.set('ok');
      expect(readLedgerHealth(file)).to.not.have.property('reason');
      writeFileSync(file, 'not json');
      expect(readLedgerHealth(file)).to.equal(undefined);
      expect(readLedgerHealth(undefined)).to.equal(undefined);
      expect(lines).to.deep.equal([]);
    } finally {
      dir.remove();
    }
  });
});
