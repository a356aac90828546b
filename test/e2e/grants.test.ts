// The credential boundary end to end (security invariant 1): with real keys granted, the fake
// provider receives them; the agent's environment, every hop's environment, everything a
// recording hop saw, the logs, the spec files, the ledger and every command's output hold only
// placeholders. The one process with a key is egress, which opens it from its sealed secrets (no
// process has one in its environment).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, isAlive, egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { DIST_DIR } from '../helpers/repo-root';
import { chainFiles, filesUnder, holdersOf } from '../helpers/key-holders';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');
const REAL_ANTHROPIC = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;
const REAL_OPENAI = `sk-REALKEY${randomBytes(24).toString('hex')}`;
const REAL = [REAL_ANTHROPIC, REAL_OPENAI];
const KEYS_ENV = { ANTHROPIC_API_KEY: REAL_ANTHROPIC, OPENAI_API_KEY: REAL_OPENAI };

// An agent that knows nothing but its environment (from `moat chain run`): it sends the anthropic
// placeholder in x-api-key (and in its prompt), then as a Bearer token, and calls OpenAI with no key at all.
const AGENT = `
const { EnvHttpProxyAgent, request } = require(${JSON.stringify(require.resolve('undici'))});
(async () => {
  const dispatcher = new EnvHttpProxyAgent();
  const ph = process.env.ANTHROPIC_API_KEY;
  const out = { anthropic: ph, openai: process.env.OPENAI_API_KEY, statuses: [] };
  const go = async (url, init) => {
    const res = await request(url, { dispatcher, ...init });
    await res.body.text();
    out.statuses.push(res.statusCode);
  };
  await go('https://api.anthropic.com/v1/messages', {
    method: 'POST',
    headers: { 'x-api-key': ph, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'claude-x',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'my key is ' + ph }],
    }),
  });
  await go('https://api.anthropic.com/v1/models', { headers: { authorization: 'Bearer ' + ph } });
  await go('https://api.openai.com/v1/models', {});
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function configYaml(provider: FakeProvider): string {
  return `proxies:
  - moat-telemetry
  - name: recorder
    command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}",
      --record, "{dir}/seen.jsonl"]
    trust_ca: "{dir}/ca/ca.crt"
  - moat-policy
grants:
  - anthropic
  - openai
capture:
  bodies: full
${egressTo(provider.port, ['api.anthropic.com', 'api.openai.com'])}
`;
}

describe('grants: a key the supervisor holds reaches the provider and nothing else', function () {
  this.timeout(120_000);
  const placeholders: Record<string, string> = {};
  let agentOut: { anthropic: string; openai: string; statuses: number[] };
  const outputs: Record<string, string> = {};

  const { chain, provider, upResult } = chainFixture({ config: configYaml, up: { env: KEYS_ENV } });

  before(() => {
    const up = upResult();
    outputs.up = up.stdout + up.stderr;
  });

  it('`moat chain env` gives the agent format-valid placeholders, never the keys', async () => {
    const res = await chain.cli(['env'], KEYS_ENV);
    expect(res.code).to.equal(0);
    outputs.env = res.stdout;
    for (const m of res.stdout.matchAll(/^export (ANTHROPIC_API_KEY|OPENAI_API_KEY)='([^']*)'$/gm))
      placeholders[m[1]] = m[2];
    expect(placeholders.ANTHROPIC_API_KEY).to.match(/^sk-ant-api03-[A-Za-z0-9_-]{93}AA$/);
    expect(placeholders.OPENAI_API_KEY).to.match(/^sk-[A-Za-z0-9]{48}$/);
  });

  it('the agent under `moat chain run` holds placeholders even when the shell had the real keys', async () => {
    const res = await chain.cli(['run', '--', process.execPath, '-e', AGENT], KEYS_ENV);
    expect(res.code, res.stderr).to.equal(0);
    outputs.run = res.stdout + res.stderr;
    agentOut = JSON.parse(res.stdout.trim().split('\n').pop()!);
    expect(agentOut.anthropic).to.equal(placeholders.ANTHROPIC_API_KEY);
    expect(agentOut.openai).to.equal(placeholders.OPENAI_API_KEY);
    expect(agentOut.statuses).to.deep.equal([200, 200, 200]);
  });

  it(
    'the provider receives the real keys: placeholder replaced ' + '(x-api-key, Bearer), header injected when absent',
    () => {
      const [messages, models, openai] = provider.seen.slice(-3);
      expect(messages.path).to.equal('/v1/messages');
      expect(messages.headers['x-api-key']).to.equal(REAL_ANTHROPIC);
      expect(messages.headers).to.not.have.property('authorization');
      // Bodies are never rewritten: the prompt still holds the placeholder (and the recorder's change).
      expect(messages.body).to.contain(placeholders.ANTHROPIC_API_KEY).and.contain('rewritten-model');
      expect(models.headers.authorization).to.equal(`Bearer ${REAL_ANTHROPIC}`);
      expect(models.headers).to.not.have.property('x-api-key');
      expect(openai.host).to.equal('api.openai.com');
      expect(openai.headers.authorization).to.equal(`Bearer ${REAL_OPENAI}`);
    },
  );

  it('the recording hop saw only placeholders', () => {
    const seen = readFileSync(join(chain.layout.hopDir(2, 'recorder'), 'seen.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(seen).to.have.length(3);
    expect(seen[0].headers['x-api-key']).to.equal(placeholders.ANTHROPIC_API_KEY);
    expect(seen[1].headers.authorization).to.equal(`Bearer ${placeholders.ANTHROPIC_API_KEY}`);
    expect(seen[2].headers).to.not.have.property('authorization');
    for (const k of REAL) expect(JSON.stringify(seen)).to.not.contain(k);
  });

  it('events, tap, plan and status show no key (capture: full)', async () => {
    let lines: string[] = [];
    for (let i = 0; i < 100 && lines.length < 24; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = (await chain.cli(['events', '--json'])).stdout.trim().split('\n').filter(Boolean);
    }
    expect(lines).to.have.length(24); // 3 requests, 4 boundaries, both ways
    outputs.events = lines.join('\n');
    const egress = lines.map((l) => JSON.parse(l)).filter((e) => e.hop_name === 'egress' && e.direction === 'request');
    // Egress records the request as it arrived: the credential header is redacted, and was the placeholder.
    expect(egress.map((e) => e.headers['x-api-key'] ?? e.headers.authorization ?? null)).to.deep.equal([
      '[REDACTED]',
      '[REDACTED]',
      null,
    ]);
    expect(egress[0].body).to.contain(placeholders.ANTHROPIC_API_KEY);

    const tap = await chain.cli(['tap', '2', '--json', '--history', '3', '--count', '3']);
    expect(tap.code, tap.stderr).to.equal(0);
    expect(tap.stdout.trim().split('\n')).to.have.length(3);
    outputs.tap = tap.stdout;
    const plan = await chain.cli(['plan', '--json'], KEYS_ENV);
    expect(plan.code, plan.stderr).to.equal(0);
    outputs.plan = plan.stdout;
    expect(JSON.parse(plan.stdout).placeholders).to.have.keys('ANTHROPIC_API_KEY', 'OPENAI_API_KEY');
    outputs.status = JSON.stringify(await chain.status());
    outputs.logs = (await chain.cli(['logs', '4'])).stdout + (await chain.cli(['logs', '2'])).stdout;
    for (const [name, text] of Object.entries(outputs)) {
      for (const k of REAL) expect(text, `a real key in the output of ${name}`).to.not.contain(k);
    }
  });

  it('no file of the chain holds a key: ledger, logs, specs, plan, hop directories, pm2 home', () => {
    const files = chainFiles(chain);
    expect(files.map((f) => f.slice(chain.layout.stateDir.length + 1))).to.include.members([
      'ledger.db',
      'plan.json',
      'run/4-egress.json',
      'hops/2-recorder/seen.jsonl',
      'logs/4-egress.log',
    ]);
    // The events are in the ledger (or still in its write-ahead log): 24 of them with full bodies.
    const ledgerBytes = files
      .filter((f) => f.startsWith(chain.layout.ledgerFile))
      .reduce((n, f) => n + statSync(f).size, 0);
    expect(ledgerBytes).to.be.greaterThan(10_000);
    expect(holdersOf(REAL, files)).to.deep.equal([]);
  });

  it(
    'no process has a key in its environment or command line, egress included (hops, links, nats, ledger, ' +
      'dashboard, metrics, pm2)',
    async () => {
      const rows = await chain.status();
      const pids = rows.map((r) => ({ name: `${r.hop}:${r.name}:${r.role}`, role: r.role, pid: r.pid as number }));
      pids.push({ name: 'pm2 daemon', role: 'pm2', pid: chain.daemonPid()! });
      expect(pids.every((p) => p.pid > 0)).to.equal(true);
      // nats, ledger, dashboard, metrics, ingress, telemetry, link, recorder, policy, egress, pm2
      expect(pids).to.have.length(11);
      for (const p of pids) {
        const environ = readFileSync(`/proc/${p.pid}/environ`, 'latin1').split('\0');
        const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'latin1');
        for (const k of REAL) expect(cmdline, `${p.name} argv`).to.not.contain(k);
        // Egress too: its keys are sealed in a file its spec names (issue 19), not in its environment.
        if (p.role === 'egress') expect(environ.join('\n')).to.not.contain('MOAT_GRANT_');
        for (const k of REAL) expect(environ.join('\n'), `${p.name} environment`).to.not.contain(k);
        if (p.role === 'third-party') {
          expect(environ).to.include.members([
            `ANTHROPIC_API_KEY=${placeholders.ANTHROPIC_API_KEY}`,
            `OPENAI_API_KEY=${placeholders.OPENAI_API_KEY}`,
          ]);
        }
      }
    },
  );

  it(
    "a pm2 daemon stopped by a signal dumps its process list to /dev/null, not to a file with egress's " +
      'environment',
    async () => {
      const dump = join(chain.layout.pm2Home, 'dump.pm2');
      expect(readlinkSync(dump)).to.equal('/dev/null');
      const pids = (await chain.status()).map((r) => r.pid as number);
      const daemon = chain.daemonPid()!;
      process.kill(daemon, 'SIGTERM');
      for (let i = 0; i < 200 && isAlive(daemon); i++) await new Promise((r) => setTimeout(r, 50));
      expect(isAlive(daemon)).to.equal(false);
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      expect(readlinkSync(dump)).to.equal('/dev/null');
      expect(holdersOf(REAL, filesUnder(chain.layout.pm2Home))).to.deep.equal([]);
      expect(holdersOf(REAL, filesUnder(chain.home))).to.deep.equal([]);
    },
  );
});

describe("grants: a key missing from the supervisor's environment", function () {
  this.timeout(60_000);
  const chain = new CliChain('nokey');

  after(() => chain.cleanup());

  for (const command of ['plan', 'up']) {
    it(
      `\`${command}\` stops with MOAT_ERR_GRANT_KEY naming ` + `the grant and the variable, and starts nothing`,
      async () => {
        chain.writeConfig('name: nokey\nproxies: [moat-telemetry]\ngrants:\n  - openai\n  - anthropic\n');
        const res = await chain.cli(command === 'up' ? ['up', '-d'] : ['plan'], {
          ANTHROPIC_API_KEY: '',
          OPENAI_API_KEY: 'sk-present',
        });
        expect(res.code).to.equal(1);
        expect(res.stderr).to.equal(
          `moat: ${chain.configFile}:5:5: grants[1] (anthropic): ANTHROPIC_API_KEY is not set and the grant ` +
            `store has no key for api.anthropic.com; store it with \`moat grant add anthropic\` or export it in ` +
            `the environment of \`moat chain up\` (only egress receives it; the agent and hops get a ` +
            `placeholder)\n(MOAT_ERR_GRANT_KEY)\n`,
        );
        expect(chain.daemonPid()).to.equal(undefined);
      },
    );
  }
});
