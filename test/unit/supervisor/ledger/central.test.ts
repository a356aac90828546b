// The pure parts of central ledgers: NATS URLs with credentials, the stream claim, which streams
// `moat ledger serve` takes, its directory (lock, id, paths) and command line.
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { redactNatsUrl, natsConnection } from '../../../../hops/events/nats-url';
import {
  planStream,
  chainOfStream,
  chainsToServe,
  claimText,
  claimedOwner,
  streamConfig,
} from '../../../../supervisor/ledger/stream';
import { centralLedgerFile, chainsInDir, ledgerDirId, lockLedgerDir } from '../../../../supervisor/ledger/dir';
import { parseLedgerArgs } from '../../../../supervisor/ledger/cli';
import { displayPlan } from '../../../../supervisor/chain/plan';
import { SUBJECTS } from '../../../../hops/events/subjects';
import { MoatError } from '../../../../supervisor/errors';
import { tmpDir } from '../../../helpers/tmp';
import { DIST_DIR } from '../../../helpers/repo-root';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as MoatError).code;
  }
  return undefined;
}

describe('central ledger: NATS URLs with credentials', () => {
  const cases: [string, string][] = [
    ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4222'],
    ['nats://moat:s3cret@nats.internal:4222', 'nats://***@nats.internal:4222'],
    ['nats://t0ken@nats.internal', 'nats://***@nats.internal'],
    ['tls://u:p%40ss@a:4222,tls://u:p%40ss@b:4222', 'tls://***@a:4222,tls://***@b:4222'],
    // no scheme: nats.js takes host:port alone, so the credentials are found all the same
    ['u:p@host:4222', '***@host:4222'],
  ];
  for (const [url, shown] of cases) it(`shows ${url} as ${shown}`, () => expect(redactNatsUrl(url)).to.equal(shown));

  it('hands nats.js the servers without credentials and the credentials as options', () => {
    expect(natsConnection('nats://moat:s3cret@h:4222')).to.deep.equal({
      servers: ['nats://h:4222'],
      user: 'moat',
      pass: 's3cret',
    });
    expect(natsConnection('nats://t0ken@h')).to.deep.equal({ servers: ['nats://h'], token: 't0ken' });
    expect(natsConnection('moat:s3cret@h:4222')).to.deep.equal({ servers: ['h:4222'], user: 'moat', pass: 's3cret' });
    expect(natsConnection('tls://u:p%40ss@a:4222, tls://u:p%40ss@b:4222')).to.deep.equal({
      servers: ['tls://a:4222', 'tls://b:4222'],
      user: 'u',
      pass: 'p@ss',
    });
    expect(natsConnection('nats://127.0.0.1:4222')).to.deep.equal({ servers: ['nats://127.0.0.1:4222'] });
  });

  it('a plan shows the NATS URL without its password, and a central chain runs no ledger writer', () => {
    const plan = planFromYaml(
      'name: a\nproxies: [moat-policy]\nevents:\n  nats_url: nats://moat:Pw0rd@n:4222\n  ledger: central\n',
      'a',
      { token: 'T0K' },
    );
    expect(plan.services.map((s) => s.role)).to.deep.equal(['dashboard']);
    expect(plan.centralLedger).to.equal(true);
    const shown = JSON.stringify(displayPlan(plan, 'T0K'));
    expect(shown).not.to.contain('Pw0rd');
    expect(shown).to.contain('nats://***@n:4222');
    // The real URL stays in the plan the processes are started from.
    expect(plan.processes[1].spec!.events!.natsUrl).to.equal('nats://moat:Pw0rd@n:4222');
  });

  it('a local ledger on a shared NATS keeps its writer', () => {
    const plan = planFromYaml('name: a\nproxies: [moat-policy]\nevents:\n  nats_url: nats://n:4222\n', 'a');
    expect(plan.services.map((s) => s.role)).to.deep.equal(['ledger', 'dashboard']);
    expect(plan.centralLedger).to.equal(undefined);
  });
});

describe('central ledger: the stream and its claim', () => {
  const mine = 'host-a:/home/u/.moat/chains/shop';
  const stream = (over: object = {}) => ({ subjects: ['moat.shop.>'], duplicate_window: 120e9, ...over });

  it('adds a missing stream, claimed when on a shared NATS', () => {
    expect(planStream('shop', null, mine)).to.equal('add');
    expect(streamConfig('shop', mine)).to.deep.equal({
      name: 'MOAT_shop',
      subjects: ['moat.shop.>'],
      duplicate_window: 120e9,
      description: `moat chain shop at ${mine}`,
    });
    expect(streamConfig('shop')).to.not.have.property('description');
  });

  it('keeps a stream claimed by this chain, claims an unclaimed one, updates a changed duplicate window', () => {
    expect(planStream('shop', stream({ description: claimText('shop', mine) }), mine)).to.equal('keep');
    expect(planStream('shop', stream(), mine)).to.equal('update');
    expect(planStream('shop', stream({ description: claimText('shop', mine), duplicate_window: 60e9 }), mine)).to.equal(
      'update',
    );
    // Without an owner (the chain's own nats-server, or its writer) a claim is left as it is.
    expect(planStream('shop', stream({ description: claimText('shop', 'other:/x') }))).to.equal('keep');
  });

  it('refuses a stream claimed by a chain of the same name elsewhere (MOAT_ERR_CHAIN_NAME_TAKEN)', () => {
    const theirs = stream({ description: claimText('shop', 'host-b:/srv/moat/chains/shop') });
    expect(codeOf(() => planStream('shop', theirs, mine))).to.equal('MOAT_ERR_CHAIN_NAME_TAKEN');
    try {
      planStream('shop', theirs, mine);
    } catch (err) {
      expect((err as Error).message)
        .to.contain('host-b:/srv/moat/chains/shop')
        .and.contain('moat ledger release');
    }
  });

  it('refuses a stream of that name with other subjects (MOAT_ERR_STREAM_CLASH)', () => {
    expect(codeOf(() => planStream('shop', stream({ subjects: ['orders.>'] }), mine))).to.equal(
      'MOAT_ERR_STREAM_CLASH',
    );
    expect(codeOf(() => planStream('a-b', { subjects: ['moat.a_b.>'] }))).to.equal('MOAT_ERR_STREAM_CLASH');
  });

  it('reads the owner back from a claim only for its own chain', () => {
    expect(claimedOwner('shop', claimText('shop', mine))).to.equal(mine);
    expect(claimedOwner('sho', claimText('shop', mine))).to.equal(undefined);
    expect(claimedOwner('shop', undefined)).to.equal(undefined);
  });

  it("takes a chain's stream only when name and subject agree", () => {
    expect(chainOfStream('MOAT_shop', ['moat.shop.>'])).to.equal('shop');
    expect(chainOfStream('MOAT_a_b', ['moat.a-b.>'])).to.equal('a-b');
    expect(chainOfStream('MOAT_shop', ['moat.other.>'])).to.equal(undefined);
    expect(chainOfStream('ORDERS', ['moat.shop.>'])).to.equal(undefined);
    expect(chainOfStream('MOAT_x', ['moat.x.>', 'more'])).to.equal(undefined);
    // A subject that would make a path outside DIR is no chain name.
    expect(chainOfStream('MOAT_..', ['moat....>'])).to.equal(undefined);
  });

  it('serves every chain, or the ones named, each once', () => {
    const streams = [
      { name: 'MOAT_b', subjects: ['moat.b.>'] },
      { name: 'KV_x', subjects: ['$KV.x.>'] },
      { name: 'MOAT_a', subjects: ['moat.a.>'] },
    ];
    expect(chainsToServe(streams, 'all')).to.deep.equal(['a', 'b']);
    expect(chainsToServe(streams, ['b', 'c'])).to.deep.equal(['b']);
  });

  it("names the central writer's consumer after its directory, never the local writer's name", () => {
    expect(SUBJECTS.centralLedgerConsumer('0123456789abcdef')).to.equal('ledger_central_0123456789abcdef');
    expect(SUBJECTS.centralLedgerConsumer('0123456789abcdef')).to.not.equal(SUBJECTS.ledgerConsumer);
  });
});

describe('central ledger: the directory serve owns', () => {
  it('one subdirectory per chain, only for chain names', () => {
    expect(centralLedgerFile('/d', 'shop')).to.equal('/d/shop/ledger.db');
    expect(codeOf(() => centralLedgerFile('/d', '../etc'))).to.equal('MOAT_ERR_USAGE');
  });

  it('lists the chains that have a ledger', () => {
    const dir = tmpDir();
    try {
      for (const c of ['b', 'a', 'empty']) mkdirSync(join(dir.path, c));
      writeFileSync(join(dir.path, 'a', 'ledger.db'), '');
      writeFileSync(join(dir.path, 'b', 'ledger.db'), '');
      expect(chainsInDir(dir.path)).to.deep.equal(['a', 'b']);
      expect(chainsInDir(join(dir.path, 'none'))).to.deep.equal([]);
    } finally {
      dir.remove();
    }
  });

  it('keeps the id it made', () => {
    const dir = tmpDir();
    try {
      const id = ledgerDirId(dir.path);
      expect(id).to.match(/^[0-9a-f]{16}$/);
      expect(ledgerDirId(dir.path)).to.equal(id);
    } finally {
      dir.remove();
    }
  });

  it('refuses a second serve on the same directory; the lock of a serve killed with -9 is free at once', async () => {
    const dir = tmpDir();
    try {
      const release = await lockLedgerDir(dir.path);
      const second = await lockLedgerDir(dir.path).then(
        () => 'taken',
        (err: MoatError) => err,
      );
      expect(second).to.be.instanceOf(MoatError);
      expect((second as MoatError).code).to.equal('MOAT_ERR_LEDGER_DIR_BUSY');
      expect((second as MoatError).message).to.contain(`pid ${process.pid}`);
      await release();
      expect(existsSync(join(dir.path, 'serve.pid'))).to.equal(false);
      // A serve that holds the lock, killed with -9: nothing is left to clean up.
      const holder = spawn(process.execPath, ['-e', holdLockScript(dir.path)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      expect(
        await lockLedgerDir(dir.path).then(
          () => 'taken',
          (err: MoatError) => err.code,
        ),
      ).to.equal('MOAT_ERR_LEDGER_DIR_BUSY');
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
      const again = await lockLedgerDir(dir.path);
      expect(readFileSync(join(dir.path, 'serve.pid'), 'utf8').trim()).to.equal(String(process.pid));
      await again();
    } finally {
      dir.remove();
    }
  });

  it('of serves started at the same instant, exactly one takes the directory', async () => {
    const dir = tmpDir();
    // The pid file the lock used to be let two in when both found a dead holder's file and took it over.
    writeFileSync(join(dir.path, 'serve.pid'), '999999\n');
    const racers = Array.from({ length: 6 }, () =>
      spawn(process.execPath, ['-e', holdLockScript(dir.path)], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    try {
      // Each says its first line; the winner holds the lock until it is killed, however late the others start.
      const outcomes = await Promise.all(
        racers.map(
          (p) =>
            new Promise<string>((resolve) => {
              let out = '';
              p.stdout.on('data', (d: Buffer) => {
                out += d.toString();
                if (out.includes('\n')) resolve(out.split('\n')[0]);
              });
              p.once('exit', () => resolve(out.trim()));
            }),
        ),
      );
      expect(outcomes.filter((o) => o === 'locked')).to.have.length(1);
      expect(outcomes.filter((o) => o === 'MOAT_ERR_LEDGER_DIR_BUSY')).to.have.length(5);
    } finally {
      for (const p of racers) p.kill('SIGKILL');
      dir.remove();
    }
  });
});

/** A process that takes DIR's lock, says "locked" (or the error code), holds it for holdMs and lets go. */
function holdLockScript(dir: string, holdMs = 60_000): string {
  const mod = JSON.stringify(join(DIST_DIR, 'supervisor', 'ledger', 'dir.js'));
  return (
    `require(${mod}).lockLedgerDir(${JSON.stringify(dir)}).then((release) => { console.log('locked'); ` +
    `setTimeout(() => release(), ${holdMs}); }, (err) => console.log(err.code))`
  );
}

describe('central ledger: moat ledger command line', () => {
  it('reads serve, verify and events options', () => {
    expect(parseLedgerArgs(['serve', '--nats', 'nats://h:1', '--dir', '/d', '--chains', 'a, b'], {})).to.include({
      command: 'serve',
      nats: 'nats://h:1',
      dir: '/d',
    });
    expect(parseLedgerArgs(['serve', '--chains', 'a,b'], {}).chains).to.deep.equal(['a', 'b']);
    expect(parseLedgerArgs(['serve', '--chains', 'all'], {}).chains).to.equal('all');
    expect(parseLedgerArgs(['verify', '--dir', '/d', '--chain', 'a', '--json'], {})).to.include({
      command: 'verify',
      chain: 'a',
      json: true,
    });
  });

  it('takes the NATS URL from MOAT_NATS_URL (a command line is visible to every user)', () => {
    expect(parseLedgerArgs(['serve'], { MOAT_NATS_URL: 'nats://u:p@h:1' }).nats).to.equal('nats://u:p@h:1');
  });

  it('refuses what is not a chain name or an option it knows', () => {
    expect(codeOf(() => parseLedgerArgs(['verify', '--chain', 'Shop'], {}))).to.equal('MOAT_ERR_USAGE');
    expect(codeOf(() => parseLedgerArgs(['serve', '--chains', 'a,../x'], {}))).to.equal('MOAT_ERR_USAGE');
    expect(codeOf(() => parseLedgerArgs(['serve', '--bogus'], {}))).to.equal('MOAT_ERR_USAGE');
    expect(codeOf(() => parseLedgerArgs(['serve', '--dir'], {}))).to.equal('MOAT_ERR_USAGE');
  });
});
