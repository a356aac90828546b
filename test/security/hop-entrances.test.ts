// Third-party hops as an agent meets them (security invariants 2 and 5): every manifest's proxy runs isolated by
// default, so its port on this machine is moat's entrance, which takes only the link in front of it; a request
// without that link's credential, in whatever form the proxy speaks, is refused and reaches nothing. And no process of
// the chain carries a secret on its command line (/proc/PID/cmdline is readable by every local user).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { rawExchange } from '../helpers/raw-client';
import type { Plan } from '../../supervisor/chain/plan';
import { REPO_ROOT } from '../helpers/repo-root';

const STAND_INS = join(REPO_ROOT, 'test', 'fixtures', 'stand-ins', 'bin');
const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

/** What an agent that found a hop's port would send it: every form a forward or base-URL proxy takes. */
const TOKENLESS = [
  'CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n',
  'GET http://api.anthropic.com/v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nConnection: close\r\n\r\n',
  'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ' +
    '2\r\nConnection: close\r\n\r\n{}',
  // A guess at the entrance line itself.
  `MOAT-ENTRANCE ${'0'.repeat(64)}\r\nGET http://api.anthropic.com/v1/models HTTP/1.1\r\nHost: ` +
    `api.anthropic.com\r\n\r\n`,
];

/**
 * Every secret a chain holds: the agent's token, every listener's and entrance's credential, every NATS seed, the
 * granted key.
 */
function secretsOf(chain: CliChain): string[] {
  const dir = chain.layout.linksDir;
  const links = existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8').trim()) : [];
  // NATS nkey seeds: in every process's spec file, and the supervisor's own.
  const seeds = new Set<string>([readFileSync(join(chain.layout.natsDir, 'moat.seed'), 'utf8').trim()]);
  for (const f of readdirSync(chain.layout.runDir).filter((x) => x.endsWith('.json'))) {
    JSON.stringify(
      JSON.parse(readFileSync(join(chain.layout.runDir, f), 'utf8')),
      (k, v) => (k === 'natsSeed' && seeds.add(v), v),
    );
  }
  expect(seeds.size, 'NATS seeds found').to.be.at.least(4);
  return [readFileSync(chain.layout.tokenFile, 'utf8').trim(), ...links, ...seeds, REAL_KEY];
}

/** Pids of this machine (those of the chain's namespaces included) whose command line holds one of the secrets. */
function commandLinesHolding(secrets: string[]): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    if (secrets.some((s) => cmdline.includes(s))) found.push(`${name}: ${cmdline.replace(/\0/g, ' ')}`);
  }
  return found;
}

function describeChain(
  title: string,
  name: string,
  proxies: string,
  hosts: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): void {
  describe(title, function () {
    this.timeout(180_000);
    let plan: Plan;

    const { chain, provider } = chainFixture({
      name,
      env: extraEnv,
      config: (provider) =>
        `name: ${name}\nproxies:\n${proxies}\ngrants: [anthropic]\ncapture:\n  bodies: ` +
        `full\n${egressTo(provider.port, hosts)}\n`,
      up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
    });

    before(() => {
      plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
    });

    it('every third-party hop runs isolated, and a request through ingress still passes all of them', async () => {
      const third = plan.processes.filter((p) => p.role === 'third-party');
      expect(third.length).to.be.at.least(3);
      expect(third.map((p) => p.isolation)).to.deep.equal(third.map(() => 'netns'));
      const agent = await chain.agent();
      const res = await timedRequest(agent, 'https://api.anthropic.com/v1/models', {
        headers: { 'x-api-key': plan.placeholders!.ANTHROPIC_API_KEY },
      });
      await agent.close();
      expect(res.status, res.body).to.equal(200);
      expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(REAL_KEY);
    });

    it(
      "a request without the link's credential, in any form, " + "is refused 407 at every third-party hop's port",
      async () => {
        const before = provider.seen.length;
        for (const hop of plan.processes.filter((p) => p.role === 'third-party')) {
          for (const payload of TOKENLESS) {
            const reply = await rawExchange(hop.port, payload, 3000);
            expect(reply.status, `hop ${hop.hop} (${hop.name}): ${payload.split('\r\n')[0]}`).to.equal(407);
          }
        }
        expect(provider.seen.length, 'nothing reached the provider').to.equal(before);
        // The entrance names itself in the hop's log. Lines reach the file in batches, through pm2: asked for a while.
        const hop = plan.processes.find((p) => p.role === 'third-party')!;
        const line = `refused: hop ${hop.hop} (${hop.name})'s entrance, listener 127.0.0.1:${hop.port}`;
        const logFile = join(chain.layout.logDir, `${hop.id}.log`);
        let log = '';
        for (let i = 0; i < 50 && !log.includes(line); i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, 100));
          log = readFileSync(logFile, 'utf8');
        }
        expect(log).to.contain(line);
      },
    );

    it('no process of this machine holds a credential of the chain or the granted key on its command line', () => {
      const secrets = secretsOf(chain);
      expect(secrets.length).to.be.at.least(plan.processes.filter((p) => p.spec).length + 1);
      expect(commandLinesHolding(secrets)).to.deep.equal([]);
    });

    it('the ledger holds only the real requests and verifies', async () => {
      const verify = await chain.cli(['verify']);
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    });
  });
}

describe('hop entrances and command lines', () => {
  before(function () {
    for (const bin of ['tinyproxy', 'mitmdump', 'agentreserve-proxy', 'ccr']) {
      if (!(process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, bin))))
        throw new Error(`"${bin}" is not installed (see .ci/run)`);
    }
  });

  describeChain(
    'tinyproxy, mitmproxy and agentreserve (in the middle) between the built-in hops',
    'entr-a',
    '  - moat-telemetry\n  - tinyproxy\n  - mitmproxy\n  - agentreserve\n  - moat-policy',
    ['api.anthropic.com'],
  );

  describeChain(
    'claude-code-router and the stand-ins of Headroom and both claude-code-proxies (base-URL hops)',
    'entr-b',
    '  - chopratejas/headroom\n  - seifghazi/claude-code-proxy\n  - use: claude-code-router\n    env: { ' +
      'ANTHROPIC_API_KEY: sk-ant-ccr-own-key }\n  - fuergaosi233/claude-code-proxy\n  - moat-policy',
    ['api.anthropic.com', 'api.openai.com'],
    { PATH: `${STAND_INS}:${process.env.PATH}` },
  );
});
