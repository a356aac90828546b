// egress.upstream_proxy attacked as an agent would (it runs as the same user): the corporate proxy's password, in
// clear or as the Basic value egress sends, is in no output, file under MOAT_HOME (plan, specs, logs, ledger), event,
// command line, or environment (egress's included: sealed for it, issue 19); it reaches the corporate proxy only,
// never a destination; and nothing the agent sends (headers naming another proxy, proxy headers of its own) makes
// egress use another upstream.
import { expect } from 'chai';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import { CorporateProxy, curlThrough, upBehind } from '../helpers/corporate-proxy';

const PASSWORD = `corp${randomBytes(12).toString('hex')}`;
const CREDENTIALS = `alice:${PASSWORD}`;
const BASIC = Buffer.from(CREDENTIALS).toString('base64');
const SECRETS = [PASSWORD, BASIC];

/** Every file below dir (Node's recursive listing). */
function filesBelow(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('security: egress.upstream_proxy credentials and the choice of upstream', function () {
  this.timeout(180_000);
  const plainHeaders: http.IncomingHttpHeaders[] = [];
  const plain = http.createServer((req, res) => {
    plainHeaders.push(req.headers);
    req.resume();
    res.end('ok');
  });
  let plainPort = 0;
  let corp: CorporateProxy;
  // The agent's own proxy, which it would like egress to use: it logs every request that reaches it.
  const rogue = new CorporateProxy('rogue', 'rogue', []);
  let port = 0;
  let token = '';

  before(async () => {
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    plainPort = (plain.address() as net.AddressInfo).port;
    await rogue.start();
  });

  // Runs before the chain's cleanup (registered first): the proxies and the destination stop meanwhile.
  after(async () => {
    plain.close();
    await rogue.cleanup();
    await corp?.cleanup();
  });

  const { chain, provider } = chainFixture({
    up: false,
    config: (p) => {
      corp = new CorporateProxy('alice', PASSWORD, [p.port]);
      return `proxies: [moat-telemetry, moat-policy]
capture:
  bodies: full
egress:
  allow: [localhost]
  extra_ca: ["${PROVIDER_CA_FILE}"]
  upstream_proxy:
    url: http://127.0.0.1:{CORP_PORT}
    credentials_env: CORP_PROXY_AUTH
`;
    },
  });

  before(async () => {
    ({ port, token } = await upBehind(chain, corp, { CORP_PROXY_AUTH: CREDENTIALS }));
  });

  const rogueUrl = () => `http://127.0.0.1:${rogue.port}`;
  const hostile = () => [
    `X-Moat-Upstream-Proxy: ${rogueUrl()}`,
    `Proxy: ${rogueUrl()}`,
    `Forwarded: by=127.0.0.1:${rogue.port};host=127.0.0.1:${rogue.port}`,
    `X-Forwarded-Host: 127.0.0.1:${rogue.port}`,
    `Via: 1.1 127.0.0.1:${rogue.port}`,
    'Proxy-Connection: keep-alive',
    `Connection: Proxy-Authorization`,
  ];

  it('headers naming another proxy change nothing: the request goes through the corporate proxy alone', async () => {
    const agent = { port, token };
    const https = await curlThrough(chain, agent, `https://localhost:${provider.port}/v1/models`, hostile());
    expect(https.status).to.equal(200);
    const plainRes = await curlThrough(chain, agent, `http://localhost:${plainPort}/p`, hostile());
    expect(plainRes.status).to.equal(200);
    expect(corp.requests()).to.include.members([
      `CONNECT localhost:${provider.port} HTTP/1.1`,
      `GET http://localhost:${plainPort}/p HTTP/1.1`,
    ]);
    expect(rogue.requests()).to.deep.equal([]);
  });

  it('the credentials reach the corporate proxy only, never a destination', () => {
    const seen = [
      ...provider.seen.map((r) => JSON.stringify(r.headers)),
      ...plainHeaders.map((h) => JSON.stringify(h)),
    ];
    expect(seen.length).to.be.greaterThan(1);
    for (const text of seen) {
      expect(text).to.not.contain('proxy-authorization');
      for (const s of SECRETS) expect(text).to.not.contain(s);
    }
  });

  it('no output, file, event, command line or environment holds them, egress included', async () => {
    // Events of both requests, at every boundary (headers captured in full).
    let events = '';
    for (let i = 0; i < 100; i++) {
      events = (await chain.cli(['events', '--json'])).stdout;
      if (events.trim().split('\n').length >= 12) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(events).to.contain('/v1/models');
    const outputs: Record<string, string> = {
      events,
      plan: (await chain.cli(['plan', '--json'], { CORP_PROXY_AUTH: CREDENTIALS })).stdout,
      planText: (await chain.cli(['plan'], { CORP_PROXY_AUTH: CREDENTIALS })).stdout,
      status: (await chain.cli(['status', '--json'])).stdout,
      logs: (await chain.cli(['logs', '3'])).stdout,
    };
    expect(outputs.plan).to.contain(`127.0.0.1:${corp.port}`);
    for (const [name, text] of Object.entries(outputs))
      for (const s of SECRETS) expect(text, `${name} holds the credentials`).to.not.contain(s);
    const files = filesBelow(chain.home);
    expect(files.map((f) => f.slice(chain.layout.stateDir.length + 1))).to.include.members([
      'plan.json',
      'run/3-egress.json',
      'logs/3-egress.log',
    ]);
    expect(files.filter((f) => f.startsWith(chain.layout.ledgerFile))).to.not.deep.equal([]);
    const holders = files.filter((f) => SECRETS.some((s) => readFileSync(f).includes(s)));
    expect(holders).to.deep.equal([]);

    const rows = await chain.status();
    const pids = rows.map((r) => ({ name: `${r.hop}:${r.name}`, role: r.role as string, pid: r.pid as number }));
    pids.push({ name: 'pm2 daemon', role: 'pm2', pid: chain.daemonPid()! });
    expect(pids.every((p) => p.pid > 0)).to.equal(true);
    for (const p of pids) {
      const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'latin1');
      for (const s of SECRETS) expect(cmdline, `${p.name} argv`).to.not.contain(s);
      // Egress's too (issue 19): it opens them from its sealed secrets, not its environment.
      const environ = readFileSync(`/proc/${p.pid}/environ`, 'latin1');
      for (const s of SECRETS) expect(environ, `${p.name} environment`).to.not.contain(s);
    }
  });
});
