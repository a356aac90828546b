// `isolation: netns` for a third-party hop: @agentreserve/proxy, which dials destinations itself, as a
// MIDDLE hop. Its process runs in network namespaces of its own; what it dials goes into the next link
// (moat-policy) with the chain token, so its traffic passes the rest of the chain and egress: the ledger
// has the boundaries after it and egress's grant applies. Its own deny rule still denies, nothing else of
// this machine is reachable from its namespace, and `down` leaves no process behind.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { FakeProvider } from '../fixtures/fake-provider';
import { CliChain, egressTo, isAlive } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { rawExchange } from '../helpers/raw-client';
import { cmdlineOf, processTree } from '../helpers/process-tree';
import { namespacesUnavailable } from '../helpers/namespaces';
import { checkNamespaces, namespaceTools } from '../../supervisor/transparent/namespaces';
import { findOnPath } from '../../supervisor/chain/find-on-path';
import type { MoatEvent } from '../../schemas/generated/event';
import { routeFor } from '../../hops/main';

/** The request events, one per boundary, of the last GET /v1/models through the chain (waits for all four). */
async function requestEventsOfLastModelsCall(chain: CliChain): Promise<MoatEvent[]> {
  let requests: MoatEvent[] = [];
  for (let i = 0; i < 50; i++) {
    const events: MoatEvent[] = await chain.events();
    const trace = events.find((e) => e.boundary === 3 && e.path === '/v1/models')?.trace;
    requests = events.filter((e) => e.trace === trace && e.direction === 'request');
    if (requests.length >= 4) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return requests;
}

/** The last GET /v1/models was recorded at boundaries 0, 1, ... in front of `hops`, in that order; its events. */
async function expectRequestPassed(chain: CliChain, hops: string[]): Promise<MoatEvent[]> {
  const requests = await requestEventsOfLastModelsCall(chain);
  expect(requests.map((e) => `${e.boundary}:${e.hop_name}`)).to.have.members(hops.map((hop, i) => `${i}:${hop}`));
  return requests;
}

const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

function requireTools(): void {
  if (!(process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'agentreserve-proxy')))) {
    throw new Error(
      '"agentreserve-proxy" is not installed: sudo npm install -g @agentreserve/proxy@0.1.0 (.ci/run does this)',
    );
  }
  // Throws MOAT_ERR_NAMESPACES saying what is missing (tools, or user namespaces refused).
  checkNamespaces(namespaceTools());
}

/** Pids whose command line or working directory mention `text`. */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .map(Number)
    .filter((pid) => {
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // exited, or not ours to read
      }
      return cmdlineOf(pid).includes(text) || cwd.startsWith(text);
    });
}

async function until(check: () => boolean, ms = 8000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

// Run inside the hop's namespaces: tries each 127.0.0.1 port, prints what happened.
const PROBE = `
const net = require('net');
const ports = JSON.parse(process.argv[1]);
const tryTcp = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('error', (e) => resolve(e.code));
  setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000).unref();
});
(async () => {
  const out = {};
  for (const p of ports) out[p] = await tryTcp(p);
  console.log(JSON.stringify(out));
})();
`;

/** Every one of `pids` gone, and no process left that names the chain's home. */
async function expectNothingLeft(chain: CliChain, pids: number[]): Promise<void> {
  expect(
    await until(() => pids.every((pid) => !isAlive(pid))),
    `alive: ${pids.filter(isAlive).map(cmdlineOf).join('\n')}`,
  ).to.equal(true);
  expect(
    await until(() => processesMentioning(chain.home).length === 0),
    processesMentioning(chain.home).map(cmdlineOf).join('\n'),
  ).to.equal(true);
}

describe(
  'isolation: netns: agentreserve 0.1.0 as a middle ' + 'hop, its traffic through the rest of the chain',
  function () {
    this.timeout(120_000);
    let provider: FakeProvider;
    let echo: http.Server;
    let echoPort: number;
    const echoSeen: http.IncomingHttpHeaders[] = [];
    const chain = new CliChain();

    before(async () => {
      requireTools();
      provider = await new FakeProvider().start();
      echo = http.createServer((req, res) => {
        echoSeen.push({ ...req.headers, 'x-url': req.url });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url, echo: true }));
      });
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      echoPort = (echo.address() as net.AddressInfo).port;
      const egress = egressTo(provider.port, ['api.anthropic.com'])
        .replace('resolve:', `resolve:\n    "plain.test:80": "127.0.0.1:${echoPort}"`)
        .replace('allow: [api.anthropic.com]', 'allow: [api.anthropic.com, plain.test]');
      chain.writeConfig(`proxies:
  - moat-telemetry
  - use: agentreserve
    isolation: netns
    files:
      agentreserve.yaml: |
        proxy:
          host: 127.0.0.1
          port: {port}
        rules:
          - match: "blocked.example/*"
            action: deny
            reason: blocked by agentreserve
          - match: "*/denied/**"
            action: deny
            reason: path denied by agentreserve
          - match: "*"
            action: log
  - moat-policy
grants:
  - anthropic
capture:
  bodies: full
${egress}
`);
      const up = await chain.cli(['up', '-d'], { ANTHROPIC_API_KEY: REAL_KEY });
      if (up.code !== 0) throw new Error(`moat chain up failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
    });

    after(async () => {
      await chain.cleanup();
      await new Promise<void>((r) => echo.close(() => r()));
      await provider.stop();
    });

    const arRow = async () => (await chain.status()).find((r) => r.name === 'agentreserve' && r.role === 'third-party');

    it('plan shows the isolation; the link in front treats it as a forward hop, not as the last one', async () => {
      const text = await chain.cli(['plan'], { ANTHROPIC_API_KEY: REAL_KEY });
      expect(text.code, text.stderr).to.equal(0);
      expect(text.stdout).to.contain('hop 2 agentreserve: agentreserve-proxy -p').and.contain('isolation: netns');
      const plan = JSON.parse((await chain.cli(['plan', '--json'], { ANTHROPIC_API_KEY: REAL_KEY })).stdout);
      const ar = plan.processes.find((p: any) => p.role === 'third-party');
      expect(ar).to.deep.include({ name: 'agentreserve', isolation: 'netns', forwardsTo: '3-moat-policy' });
      const link = plan.processes.find((p: any) => p.role === 'link');
      expect(link.spec.onward.kind).to.equal('forward_hop');
      // It still connects to destinations itself, so it is never handed the chain token (its relay adds it).
      expect(link.spec.onward.dialsDirectly).to.equal(true);
      const route = routeFor(link.spec, 'CA');
      expect(route).to.deep.include({ kind: 'next', proxyAuthorization: '' });
    });

    it('runs in a network namespace of its own, reached on its port of this machine', async () => {
      const ar = await arRow();
      expect(ar.state).to.equal('online');
      const inside = processTree(ar.pid).find(
        (pid) => cmdlineOf(pid).includes('agentreserve-proxy -p') && !cmdlineOf(pid).includes('netns-main'),
      )!;
      expect(inside, 'the agentreserve process').to.be.a('number');
      expect(readlinkSync(`/proc/${inside}/ns/net`)).to.not.equal(readlinkSync('/proc/self/ns/net'));
      expect(readlinkSync(`/proc/${inside}/cwd`)).to.equal(join(chain.layout.stateDir, 'hops', '2-agentreserve'));
      // Its port is moat's entrance: a plain request is refused; one that says the entrance line reaches agentreserve.
      const ask = (prefix: string) =>
        rawExchange(ar.port, `${prefix}GET /_/api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect((await ask('')).status).to.equal(407);
      const entrance = readFileSync(chain.layout.linkTokenFile('2-agentreserve'), 'utf8').trim();
      const reply = await ask(`MOAT-ENTRANCE ${entrance}\r\n`);
      expect(reply.status, reply.head).to.equal(200);
      expect(reply.head).to.contain('"stats"');
    });

    it(
      'HTTPS it dials goes through moat-policy and egress: the ' + 'grant applies, every boundary is in the ledger',
      async () => {
        await chain.expectModels();
        const seen = provider.seen[provider.seen.length - 1];
        expect(seen.path).to.equal('/v1/models');
        // Egress put in the real key: the request passed egress after agentreserve.
        expect(seen.headers['x-api-key']).to.equal(REAL_KEY);
        const requests = await expectRequestPassed(chain, ['moat-telemetry', 'agentreserve', 'moat-policy', 'egress']);
        expect(requests.every((e) => e.host === 'api.anthropic.com')).to.equal(true);
      },
    );

    it('plain HTTP it dials (port 80, destination from Host) goes the same way', async () => {
      const a = await chain.agent();
      const res = await timedRequest(a, 'http://plain.test/hello?x=1');
      await a.close();
      expect(res.status, res.body).to.equal(200);
      expect(JSON.parse(res.body)).to.deep.equal({ url: '/hello?x=1', echo: true });
      const seen = echoSeen[echoSeen.length - 1];
      expect(seen['proxy-authorization']).to.equal(undefined);
      expect(Object.keys(seen).filter((h) => h.startsWith('x-moat-'))).to.deep.equal([]);
    });

    it("agentreserve's own rules still deny, before anything reaches the next hop", async () => {
      const before = provider.seen.length;
      const a = await chain.agent();
      const tunnel = await timedRequest(a, 'https://blocked.example/v1/models');
      const plain = await timedRequest(a, 'http://plain.test/denied/x');
      await a.close();
      expect(tunnel.status).to.equal(502);
      expect(JSON.parse(tunnel.body)).to.deep.include({ error: 'hop_failed', hop: 2, hop_name: 'agentreserve' });
      expect(plain.status).to.equal(403);
      expect(JSON.parse(plain.body).error).to.deep.include({
        code: 'PROXY_DENIED',
        message: 'path denied by agentreserve',
      });
      expect(provider.seen.length).to.equal(before);
      expect(echoSeen.map((h) => h['x-url'])).to.not.include('/denied/x');
    });

    it(
      'agentreserve never holds the chain token: nothing in ' + 'its directory (audit database, logs) contains it',
      async () => {
        const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
        const files = (dir: string): string[] =>
          readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
            e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
          );
        const hopFiles = files(join(chain.layout.stateDir, 'hops', '2-agentreserve'));
        expect(hopFiles.length).to.be.greaterThan(0);
        for (const f of hopFiles) expect(readFileSync(f).includes(token), f).to.equal(false);
      },
    );

    it('from inside its namespace, a port of this machine that is not the chain is refused', async () => {
      const outside = net.createServer((s) => s.destroy());
      await new Promise<void>((r) => outside.listen(0, '127.0.0.1', r));
      const port = (outside.address() as net.AddressInfo).port;
      try {
        const ar = await arRow();
        // The helper (root of the hop's user namespace, init of its PID namespace) owns the network namespace.
        const helper = processTree(ar.pid).find(
          (pid) => cmdlineOf(pid).startsWith(`${process.execPath} `) && cmdlineOf(pid).includes('netns-main.js'),
        )!;
        expect(helper, 'the namespace helper').to.be.a('number');
        const out = await new Promise<string>((resolve, reject) =>
          execFile(
            'nsenter',
            [
              '-t',
              String(helper),
              '-U',
              '-n',
              '--preserve-credentials',
              process.execPath,
              '-e',
              PROBE,
              JSON.stringify([port, echoPort]),
            ],
            { timeout: 20_000 },
            (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
          ),
        );
        expect(JSON.parse(out)).to.deep.equal({ [port]: 'ECONNREFUSED', [echoPort]: 'ECONNREFUSED' });
        // The same ports answer outside the namespace.
        const outsideProbe = await new Promise<string>((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          s.on('connect', () => (s.destroy(), resolve('connected')));
          s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        expect(outsideProbe).to.equal('connected');
      } finally {
        outside.close();
      }
    });

    it('when agentreserve dies, its wrapper and namespace go with it and pm2 starts it again, isolated', async () => {
      const before = await arRow();
      const inside = processTree(before.pid).find(
        (pid) => cmdlineOf(pid).includes('agentreserve-proxy -p') && !cmdlineOf(pid).includes('netns-main'),
      )!;
      const oldTree = processTree(before.pid);
      process.kill(inside, 'SIGKILL');
      expect(await until(() => oldTree.every((pid) => !isAlive(pid))), 'the old wrapper, helper and hop exit').to.equal(
        true,
      );
      let row = before;
      for (let i = 0; i < 100 && (row.restarts === before.restarts || row.state !== 'online'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        row = await arRow();
      }
      expect(row.restarts).to.equal(before.restarts + 1);
      const a = await chain.agent();
      let res = await timedRequest(a, 'https://api.anthropic.com/v1/models');
      // pm2 reports online once the wrapper runs; the hop listens a moment later.
      for (let i = 0; i < 50 && res.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        res = await timedRequest(a, 'https://api.anthropic.com/v1/models');
      }
      await a.close();
      expect(res.status, res.body).to.equal(200);
      const now = await arRow();
      const again = processTree(now.pid).find(
        (pid) => cmdlineOf(pid).includes('agentreserve-proxy -p') && !cmdlineOf(pid).includes('netns-main'),
      );
      expect(
        again,
        `agentreserve under the new wrapper ${now.pid}: ${processTree(now.pid).map(cmdlineOf).join(' | ')}`,
      ).to.be.a('number');
      // A new process in a namespace that is not this machine's (the kernel may reuse the old namespace's inode
      // number).
      expect(again).to.not.equal(inside);
      expect(readlinkSync(`/proc/${again}/ns/net`)).to.not.equal(readlinkSync('/proc/self/ns/net'));
    });

    it('`moat chain down` leaves no process behind: wrapper, helper and agentreserve are gone', async () => {
      const ar = await arRow();
      const pids = processTree(ar.pid);
      expect(pids.length, 'wrapper, unshare, helper, unshare, agentreserve').to.be.at.least(4);
      const res = await chain.cli(['down']);
      expect(res.code, res.stderr).to.equal(0);
      await expectNothingLeft(chain, pids);
    });
  },
);

describe('isolation: netns where namespaces cannot be had', function () {
  this.timeout(60_000);
  const chain = new CliChain('nons');
  after(() => chain.cleanup());

  it(
    '`moat chain up` stops before anything starts with MOAT_ERR_NAMESPACES naming the hop, file:line and the ' +
      'missing tool',
    async () => {
      // A PATH with the hop's binary but without unshare, ip and mount.
      const bin = join(chain.home, 'bin');
      mkdirSync(bin, { recursive: true });
      symlinkSync(findOnPath('agentreserve-proxy')!, join(bin, 'agentreserve-proxy'));
      chain.writeConfig(
        'name: nons\nproxies:\n  - moat-telemetry\n  - use: agentreserve\n    isolation: netns\n  - moat-policy\n',
      );
      const res = await chain.cli(['up', '-d'], { PATH: bin });
      expect(res.code).to.equal(1);
      expect(res.stderr).to.contain(
        `${chain.configFile}:5:16: proxies[1].isolation: hop 2 (agentreserve), isolated in network namespaces ` +
          `(isolation: netns, the default) needs \`unshare\` (package util-linux), \`ip\` (package iproute2) and ` +
          `\`mount\` (package util-linux), not found on PATH`,
      );
      expect(res.stderr).to.contain('MOAT_ERR_NAMESPACES');
      expect(existsSync(join(chain.layout.pm2Home, 'pm2.pid')), 'no pm2 daemon was started').to.equal(false);
    },
  );

  it('`moat chain up` refuses an isolated hop whose binary lies in MOAT_HOME, hidden from it there', async function () {
    // The namespaces are tried first: this refusal comes after, where they can be had.
    if (namespacesUnavailable()) return this.skip();
    // A link to the hop's binary in MOAT_HOME, first on PATH: inside, the link's place is an empty cover.
    const bin = join(chain.home, 'bin');
    mkdirSync(bin, { recursive: true });
    if (!existsSync(join(bin, 'agentreserve-proxy')))
      symlinkSync(findOnPath('agentreserve-proxy')!, join(bin, 'agentreserve-proxy'));
    chain.writeConfig('name: nons\nproxies:\n  - moat-telemetry\n  - use: agentreserve\n  - moat-policy\n');
    const res = await chain.cli(['up', '-d'], { PATH: `${bin}:${process.env.PATH}` });
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain(
      `${chain.configFile}:4:5: proxies[1].command[0]: ${join(bin, 'agentreserve-proxy')} (hop 2, agentreserve) ` +
        `lies under ${realpathSync(chain.home)}, which an isolated hop cannot see`,
    );
    expect(res.stderr).to.contain('MOAT_ERR_NAMESPACES');
    expect(existsSync(join(chain.layout.pm2Home, 'pm2.pid')), 'no pm2 daemon was started').to.equal(false);
  });
});

describe(
  'isolation: netns: [moat-telemetry, agentreserve, tinyproxy], both isolated; tinyproxy reaches egress by its ' +
    'upstream setting',
  function () {
    this.timeout(120_000);
    before(() => {
      requireTools();
      if (!(process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'tinyproxy'))))
        throw new Error('"tinyproxy" is not installed: sudo apt-get install tinyproxy');
    });
    const { chain } = chainFixture({
      name: 'netns2',
      config: (provider) => `name: netns2
proxies:
  - moat-telemetry
  - use: agentreserve
    isolation: netns
  - use: tinyproxy
    isolation: netns
capture:
  bodies: full
${egressTo(provider.port)}
`,
    });

    it('a request passes agentreserve, then tinyproxy, then egress; every boundary is recorded', async () => {
      await chain.expectModels();
      await expectRequestPassed(chain, ['moat-telemetry', 'agentreserve', 'tinyproxy', 'egress']);
      const rows = await chain.status();
      for (const name of ['agentreserve', 'tinyproxy']) {
        const row = rows.find((r) => r.name === name && r.role === 'third-party');
        const inside = processTree(row.pid).filter(
          (pid) => readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net'),
        );
        expect(inside.length, `${name} has processes in a namespace of its own`).to.be.at.least(1);
      }
    });

    it('down leaves no process behind', async () => {
      const rows = (await chain.status()).filter((r) => r.role === 'third-party');
      const pids = rows.flatMap((r) => processTree(r.pid));
      expect((await chain.cli(['down'])).code).to.equal(0);
      await expectNothingLeft(chain, pids);
    });
  },
);
