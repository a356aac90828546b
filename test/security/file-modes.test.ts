// Security invariant 5: state files are the user's alone. A real chain (capture.bodies: full, a request through it,
// its events in the ledger), started over a MOAT_HOME an older version left readable to all: every directory under
// MOAT_HOME and pm2's home is 0700, every file and socket 0600; nothing has a bit for group or others.
import { expect } from 'chai';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';

/** Every entry under root (root included) whose mode is not private, as "path mode" lines. */
function notPrivate(root: string): string[] {
  const bad: string[] = [];
  const visit = (path: string) => {
    const st = lstatSync(path);
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) {
      // pm2's dump.pm2 (the apps' environments, egress's keys included) goes nowhere.
      if (readlinkSync(path) !== '/dev/null') bad.push(`${path} symlink to ${readlinkSync(path)}`);
      return;
    }
    const kind = st.isDirectory() ? 'dir' : st.isSocket() ? 'socket' : st.isFile() ? 'file' : 'other';
    const wanted = st.isDirectory() ? 0o700 : 0o600;
    if (mode !== wanted) bad.push(`${path} ${kind} ${mode.toString(8)}`);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(root);
  return bad;
}

function kinds(root: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    const st = lstatSync(path);
    if (st.isSocket()) seen.add('socket');
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(root);
  return seen;
}

describe('security: state files are 0700 / 0600', function () {
  this.timeout(120_000);
  before(() => {
    // What an older moat left: MOAT_HOME and a state directory 0755, a CA certificate and a plan 0644.
    mkdirSync(chain.layout.stateDir, { recursive: true, mode: 0o755 });
    for (const dir of [chain.home, join(chain.home, 'chains'), chain.layout.stateDir]) chmodSync(dir, 0o755);
    writeFileSync(join(chain.layout.stateDir, 'old-notes.txt'), 'left by an older version\n', { mode: 0o644 });
    chmodSync(join(chain.layout.stateDir, 'old-notes.txt'), 0o644);
  });
  const { chain } = chainFixture({
    config: (provider) =>
      `proxies: [moat-telemetry, moat-policy]\ncapture:\n  bodies: full\n${egressTo(provider.port)}\n`,
  });

  it(
    'MOAT_HOME, the state directory, the ledger, spools, logs, keys, tokens and pm2 home hold nothing readable ' +
      'by others',
    async () => {
      const agent = await chain.agent();
      try {
        const res = await fetch('https://api.anthropic.com/v1/messages', {
          method: 'POST',
          body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] }),
          headers: { 'content-type': 'application/json' },
          // @ts-expect-error undici's dispatcher option
          dispatcher: agent,
        });
        await res.text();
        expect(res.status).to.equal(200);
      } finally {
        await agent.close();
      }
      let events = 0;
      for (let i = 0; i < 100 && events < 6; i++) {
        await new Promise((r) => setTimeout(r, 100));
        events = (await chain.cli(['events', '--json'])).stdout.trim().split('\n').filter(Boolean).length;
      }
      expect(events, 'the request is in the ledger').to.equal(6);

      const layout = chain.layout;
      const present = (p: string) => readdirSync(join(p, '..')).includes(p.split('/').pop()!);
      for (const f of [
        layout.ledgerFile,
        layout.planFile,
        layout.tokenFile,
        layout.dashboardTokenFile,
        layout.caCertFile,
        layout.caBundleFile,
        layout.caKeyFile,
        join(layout.pm2Home, 'pm2.log'),
        join(layout.pm2Home, 'pm2.pid'),
      ]) {
        expect(present(f), f).to.equal(true);
      }
      expect(readdirSync(layout.stateDir)).to.include.members(['ledger.db-wal', 'nats', 'logs', 'run']);
      expect(kinds(layout.pm2Home).has('socket'), "pm2's sockets are checked").to.equal(true);
      expect(notPrivate(chain.home)).to.deep.equal([]);
      expect(notPrivate(layout.pm2Home)).to.deep.equal([]);
    },
  );
});
