// `run --transparent` hides the chain from the agent: in its namespaces it cannot read any file of MOAT_HOME (the
// chain token, the spec files, NATS credentials, the ledger, the CA key) nor pm2's home, cannot see the chain's
// processes (its /proc holds only its own), nor egress's sealed keys and their key (run/egress.secrets,
// links/egress.secrets.key), and still
// reaches the provider through the chain over HTTPS, trusting the Moat CA from the run's own copy. Started from inside
// the state directory, it finds the empty cover there.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS_BODY } from '../fixtures/fake-provider';
import { egressTo, MOAT_BIN } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { skipWithoutNamespaces } from '../helpers/namespaces';
import { tmpDir } from '../helpers/tmp';
import { SOCKET_PROBE } from '../helpers/socket-probe';
import type { Plan } from '../../supervisor/chain/plan';

const REAL_ANTHROPIC = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = lstatSync(path);
    return st.isDirectory() ? filesUnder(path) : [path];
  });
}

// The agent: tries to read each file given, lists the covered directories and /proc, then makes an HTTPS request.
const AGENT = `
for f in "$@"; do
  if cat "$f" >/dev/null 2>&1; then echo "READ $f"; fi
  if [ -e "$f" ]; then echo "EXISTS $f"; fi
done
for d in "$MOAT_HOME" "$PM2_DIR"; do echo "LS $d: $(ls -A "$d" 2>&1 | tr '\\n' ' ')"; done
if touch "$MOAT_HOME/planted" 2>/dev/null; then echo "WROTE $MOAT_HOME/planted"; fi
echo "PROC $(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')"
echo "BODY $(curl -sS --fail https://api.anthropic.com/v1/models)"
echo "CAFILE $SSL_CERT_FILE"
`;

describe('security: run --transparent hides the chain from the agent', function () {
  this.timeout(120_000);
  before(function () {
    skipWithoutNamespaces(this);
  });
  const { chain, provider } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry, moat-policy]\ngrants: [anthropic]\n${egressTo(provider.port)}\n`,
    up: { env: { ANTHROPIC_API_KEY: REAL_ANTHROPIC } },
  });

  it(
    'the token, specs, ledger, CA key, pm2 home and egress /proc entry are out of reach; HTTPS through the ' +
      'chain works',
    async () => {
      const layout = chain.layout;
      const rows = await chain.status();
      const egressPid = rows.find((r) => r.role === 'egress').pid as number;
      const daemonPid = chain.daemonPid()!;
      // Outside, as the same user, all of it is there (that is the point of hiding it).
      const targets = [
        layout.tokenFile,
        layout.caKeyFile,
        layout.ledgerFile,
        ...readdirSync(layout.runDir)
          .filter((n) => n.endsWith('.json'))
          .map((n) => join(layout.runDir, n)),
        ...filesUnder(chain.home).filter((f) => lstatSync(f).isFile()),
        join(layout.pm2Home, 'rpc.sock'),
        `/proc/${egressPid}/environ`,
        `/proc/${daemonPid}/environ`,
      ];
      for (const f of [
        layout.tokenFile,
        layout.caKeyFile,
        layout.ledgerFile,
        layout.egressSecretsFile,
        layout.egressSecretsKeyFile,
        `/proc/${egressPid}/environ`,
      ])
        expect(existsSync(f), f).to.equal(true);
      expect(targets.filter((f) => f.includes('/run/') && f.endsWith('.json')).length).to.be.above(3);

      const runDirs = () => readdirSync('/tmp').filter((n) => n.startsWith('moat-run-'));
      const runDirsBefore = new Set(runDirs());
      const res = await chain.cli(['run', '--transparent', '--', 'sh', '-c', AGENT, 'agent', ...targets], {
        PM2_DIR: layout.pm2Home,
        MOAT_HOME: chain.home,
      });
      expect(res.code, res.stderr).to.equal(0);
      const lines = res.stdout.split('\n');
      expect(
        lines.filter((l) => l.startsWith('READ ') || l.startsWith('EXISTS ') || l.startsWith('WROTE ')),
      ).to.deep.equal([]);
      // MOAT_HOME is empty; pm2's home, inside it here, does not exist there (in /tmp it would be covered itself).
      expect(lines.filter((l) => l.startsWith('LS '))).to.deep.equal([
        `LS ${chain.home}: `,
        `LS ${layout.pm2Home}: ls: cannot access '${layout.pm2Home}': No such file or directory `,
      ]);
      const procs = lines
        .find((l) => l.startsWith('PROC '))!
        .slice(5)
        .trim()
        .split(' ')
        .map(Number);
      for (const pid of [daemonPid, ...rows.map((r) => r.pid as number)])
        expect(procs, `pid ${pid} of the chain`).to.not.include(pid);
      // The helper (1), the agent's shell and the pipeline it runs now: nothing else (outside there are hundreds).
      expect(procs.length, `processes seen inside: ${procs.join(' ')}`).to.be.below(10);
      expect(readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length).to.be.above(20);
      expect(lines.find((l) => l.startsWith('BODY '))).to.equal(`BODY ${MODELS_BODY.trimEnd()}`);
      expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(REAL_ANTHROPIC);
      // The run's copy of the CA is gone with it.
      // (Another run going on meanwhile may hold one of its own: this run's is the one its agent was pointed at.)
      const caFile = lines
        .find((l) => l.startsWith('CAFILE '))!
        .slice(7)
        .trim();
      expect(caFile).to.match(/^\/tmp\/moat-run-[^/]+\//);
      expect(runDirsBefore.has(caFile.split('/')[2])).to.equal(false);
      expect(existsSync(caFile), `${caFile} left behind`).to.equal(false);
    },
  );

  it('started in the state directory, the agent finds the empty cover there, not the files under it', async () => {
    const layout = chain.layout;
    expect(existsSync(join(layout.stateDir, 'token'))).to.equal(true);
    // A working directory under a covered path, kept as it was, would still lead to the files the cover hides.
    const agent = 'cat token links/* 2>/dev/null; echo "PWD $(pwd)"';
    const res = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [MOAT_BIN, 'chain', 'run', '-f', chain.configFile, '--transparent', '--', 'sh', '-c', agent],
        { env: chain.env, cwd: layout.stateDir },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal('PWD /\n');
  });

  it("the chain's link sockets do not answer the agent: abstract sockets belong to the host's network namespace", async () => {
    const plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8')) as Plan;
    const names = plan.processes.filter((p) => p.spec?.socket).map((p) => p.spec!.socket!);
    expect(names.length, 'moat-telemetry, moat-policy and egress take link TLS on sockets').to.equal(3);
    const egress = plan.processes.find((p) => p.role === 'egress')!;
    const probeArgs = ['-e', SOCKET_PROBE, JSON.stringify({ names, port: egress.port })];
    const inside = await chain.cli(['run', '--transparent', '--', process.execPath, ...probeArgs], {
      MOAT_HOME: chain.home,
    });
    expect(inside.code, inside.stderr).to.equal(0);
    const outside = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, probeArgs, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const seenInside = JSON.parse(inside.stdout.trim().split('\n').at(-1)!);
    const seenOutside = JSON.parse(outside);
    for (const name of names) {
      expect(seenOutside[name], `@${name} from this machine`).to.equal('connected');
      expect(seenInside[name], `@${name} from the agent`).to.equal('ECONNREFUSED');
    }
    expect(seenInside.port, "egress's port from the agent").to.equal('ECONNREFUSED');
  });

  it(
    "an agent that puts a link to another directory in its CA copy's place, then `run` is killed: the namespace's " +
      'end removes the link, not what it points at',
    async () => {
      const victim = tmpDir('moat-victim-');
      try {
        writeFileSync(join(victim.path, 'keep'), "the user's file");
        // The copy's directory is the agent's own (0700, its user): it moves it aside, links the victim there, waits.
        const swap =
          'd=$(dirname "$SSL_CERT_FILE"); mv "$d" "$d.moved" && ln -s "$1" "$d" && echo "SWAPPED $d" && sleep 300';
        const run = spawn(
          process.execPath,
          [
            MOAT_BIN,
            'chain',
            'run',
            '-f',
            chain.configFile,
            '--transparent',
            '--',
            'sh',
            '-c',
            swap,
            'agent',
            victim.path,
          ],
          { env: { ...chain.env, MOAT_HOME: chain.home } },
        );
        let stdout = '';
        run.stdout.on('data', (d: Buffer) => (stdout += d));
        const exited = new Promise((r) => run.on('exit', r));
        const swapped = await waitFor(() => stdout.match(/^SWAPPED (\/tmp\/moat-run-\S+)$/m)?.[1]);
        expect(swapped, stdout).to.be.a('string');
        // Killed, `run` removes nothing itself: only the namespace's helper, as it ends, does.
        run.kill('SIGKILL');
        await exited;
        const gone = () => lstatSync(swapped!, { throwIfNoEntry: false }) === undefined;
        expect(await waitFor(() => gone() || undefined), 'the link is removed').to.equal(true);
        expect(readFileSync(join(victim.path, 'keep'), 'utf8')).to.equal("the user's file");
        rmSync(`${swapped}.moved`, { recursive: true, force: true }); // the agent's own doing
      } finally {
        victim.remove();
      }
    },
  );
});

/** Polls (every 50 ms, up to 10 s) until `value` gives something; that, or undefined. */
async function waitFor<T>(value: () => T | undefined, ms = 10_000): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = value();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
