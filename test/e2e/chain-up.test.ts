// End to end through `moat chain up -d`: every hop its own process under pm2, real TLS
// at every boundary, clients that know nothing but the environment from `moat chain env`.
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, statSync } from 'node:fs';
import { FakeProvider, MODELS_BODY, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { processesMentioning, isAlive, MOAT_BIN, type CliChain } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';

function chainYaml(provider: FakeProvider, proxies: string): string {
  return `proxies:
${proxies}
policy:
  rules:
    - match: "*.internal.example.com/*"
      action: deny
      reason: internal APIs are off limits
egress:
  allow: [api.anthropic.com, x.internal.example.com]
  resolve:
    "api.anthropic.com:443": "127.0.0.1:${provider.port}"
    "x.internal.example.com:443": "127.0.0.1:${provider.port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`;
}

// A Node agent as Claude Code is one: undici's EnvHttpProxyAgent reads HTTPS_PROXY/NO_PROXY,
// NODE_EXTRA_CA_CERTS makes it trust the Moat CA. It prints when each chunk arrived.
const NODE_AGENT = `
const { EnvHttpProxyAgent, request } = require(${JSON.stringify(require.resolve('undici'))});
(async () => {
  const t0 = performance.now();
  const res = await request(process.argv[1], { dispatcher: new EnvHttpProxyAgent() });
  const out = { status: res.statusCode, headersAt: performance.now() - t0, chunks: [] };
  for await (const c of res.body) out.chunks.push({ at: performance.now() - t0, text: Buffer.from(c).toString() });
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const PYTHON_AGENT = `
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    sys.stdout.write(r.read().decode())
`;

function sseGaps(chunks: { at: number; text: string }[]): number[] {
  const events = chunks.filter((c) => c.text.includes('event: tick'));
  return events.slice(1).map((c, i) => c.at - events[i].at);
}

/** curl of /v1/models under `moat chain run`: the provider's bytes exactly. */
async function expectModelsThroughRun(chain: CliChain): Promise<void> {
  const res = await chain.cli(['run', '--', 'curl', '-sS', '--fail', 'https://api.anthropic.com/v1/models']);
  expect(res.code, res.stderr).to.equal(0);
  expect(res.stdout).to.equal(MODELS_BODY);
}

/** NODE_AGENT under `moat chain run` reads `events` SSE events sent 100 ms apart; what it saw. */
async function sseThroughRun(chain: CliChain, events: number): Promise<any> {
  const url = `https://api.anthropic.com/sse?events=${events}&interval=100`;
  const res = await chain.cli(['run', '--', process.execPath, '-e', NODE_AGENT, url]);
  expect(res.code, res.stderr).to.equal(0);
  return JSON.parse(res.stdout);
}

/** Four SSE events 100 ms apart, read by a node agent under `moat chain run`, arrive spaced as sent (unbuffered). */
async function expectSseUnbuffered(chain: CliChain): Promise<void> {
  const gaps = sseGaps((await sseThroughRun(chain, 4)).chunks);
  expect(gaps).to.have.length(3);
  for (const gap of gaps) expect(gap).to.be.within(50, 400);
}

describe('moat chain up: built-in hops as separate processes', function () {
  this.timeout(120_000);
  const { chain, provider, upResult } = chainFixture({
    config: (provider) => chainYaml(provider, '  - moat-telemetry\n  - moat-policy'),
  });

  before(() => {
    expect(upResult().stdout).to.match(/ready\s+hop 0\s+ingress/);
  });

  it('status shows ingress, both hops and egress online, each its own pid', async () => {
    const rows = await chain.status();
    expect(rows.map((r) => [r.hop, r.name, r.state])).to.deep.equal([
      [-1, 'nats-server', 'online'],
      [-1, 'ledger-writer', 'online'],
      [-1, 'dashboard', 'online'],
      [-1, 'metrics', 'online'],
      [0, 'ingress', 'online'],
      [1, 'moat-telemetry', 'online'],
      [2, 'moat-policy', 'online'],
      [3, 'egress', 'online'],
    ]);
    expect(new Set(rows.map((r) => r.pid)).size).to.equal(8);
    for (const r of rows) expect(isAlive(r.pid)).to.equal(true);
  });

  it("curl via `moat chain run` gets exactly the provider's bytes", async () => {
    const res = await chain.cli(['run', '--', 'curl', '-sS', '--fail', 'https://api.anthropic.com/v1/models']);
    expect(res.stderr).to.equal('');
    expect(res.code).to.equal(0);
    expect(res.stdout).to.equal(MODELS_BODY);
  });

  it('`moat chain run` returns the exit code of the command', async () => {
    expect((await chain.cli(['run', '--', 'sh', '-c', 'exit 7'])).code).to.equal(7);
  });

  it('`eval "$(moat chain env)"` is all a shell needs', async () => {
    const script =
      `eval "$(node ${MOAT_BIN} chain env -f ${chain.configFile})" && curl -sS --fail ` +
      `https://api.anthropic.com/v1/models`;
    // Asynchronous: the fake provider lives in this process and must keep answering.
    const { stdout } = await promisify(execFile)('bash', ['-c', script], {
      env: { ...chain.env, HTTPS_PROXY: '', https_proxy: '', CURL_CA_BUNDLE: '', SSL_CERT_FILE: '' },
    });
    expect(stdout).to.equal(MODELS_BODY);
  });

  it('a Node agent with undici EnvHttpProxyAgent gets SSE events spaced, not in one burst', async () => {
    const out = await sseThroughRun(chain, 5);
    expect(out.status).to.equal(200);
    const gaps = sseGaps(out.chunks);
    expect(gaps).to.have.length(4);
    for (const gap of gaps) expect(gap).to.be.within(50, 400);
    expect(out.headersAt).to.be.lessThan(out.chunks[0].at - 50);
  });

  it('a Python urllib agent works with nothing but the environment', async () => {
    const res = await chain.cli(['run', '--', 'python3', '-c', PYTHON_AGENT, 'https://api.anthropic.com/v1/models']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal(MODELS_BODY);
  });

  it('a deny rule answers 403 and the provider never sees the request', async () => {
    const before = provider.seen.length;
    const res = await chain.cli([
      'run',
      '--',
      'curl',
      '-sS',
      '-w',
      '%{http_code}',
      'https://x.internal.example.com/v1/models',
    ]);
    const body = res.stdout.slice(0, -3);
    expect(res.stdout.slice(-3)).to.equal('403');
    expect(JSON.parse(body)).to.deep.include({
      error: 'policy_denied',
      rule: 'rules[0]',
      reason: 'internal APIs are off limits',
    });
    expect(JSON.parse(body).message).to.match(/^moat denied GET x\.internal\.example\.com \(rule rules\[0\]: /);
    expect(provider.seen.length).to.equal(before);
  });

  it('the proxy without the token answers 407', async () => {
    const rows = await chain.status();
    const res = await chain.cli([
      'run',
      '--',
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_connect}',
      '--proxy',
      `http://127.0.0.1:${rows.find((r) => r.name === 'ingress').port}`,
      'https://api.anthropic.com/v1/models',
    ]);
    expect(res.stdout).to.equal('407');
  });

  it('moat-telemetry logs one canonical line per request, seen with `moat chain logs 1`', async () => {
    const res = await chain.cli(['logs', '1']);
    expect(res.code).to.equal(0);
    expect(res.stdout).to.match(
      /moat-telemetry trace=[0-9a-f]{32} method=GET scheme=https host=api.anthropic.com path=\/v1\/models status=200 /,
    );
    const json = await chain.cli(['logs', '1', '--json', '--lines', '5']);
    const [entry] = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(entry).to.include({ hop: 1, name: 'moat-telemetry', role: 'builtin' });
    expect(entry.lines).to.have.length.within(1, 5);
    expect(entry.lines.join('\n')).to.contain('moat-telemetry trace=');
  });

  it('a killed hop fails closed with 502 naming it, then serves again once pm2 restarts it', async () => {
    const policy = (await chain.status()).find((r) => r.name === 'moat-policy');
    const before = provider.seen.length;
    const agent = await chain.agent();
    process.kill(policy.pid, 'SIGKILL');
    // An in-process client: the CLI's own start-up would take longer than pm2's restart.
    const down = await timedRequest(agent, 'https://api.anthropic.com/v1/models');
    await agent.close();
    expect(down.status).to.equal(502);
    // Refused (a new connection) or broken (a pooled one the kill cut, when the request beats the close): both name the
    // hop.
    const failure = JSON.parse(down.body);
    expect(failure).to.deep.include({ hop: 2, hop_name: 'moat-policy' });
    expect(failure.error).to.be.oneOf(['hop_unavailable', 'hop_failed']);
    expect(provider.seen.length, 'the request must not skip the hop').to.equal(before);
    let body = '';
    for (let i = 0; i < 100 && body !== MODELS_BODY; i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = (await chain.cli(['run', '--', 'curl', '-sS', 'https://api.anthropic.com/v1/models'])).stdout;
    }
    expect(body).to.equal(MODELS_BODY);
    const after = (await chain.status()).find((r) => r.name === 'moat-policy');
    expect(after.restarts).to.be.at.least(1);
    expect(after.pid).to.not.equal(policy.pid);
  });

  it('hop processes get a clean environment: nothing of the supervisor leaks', async () => {
    const rows = await chain.status();
    const environ = readFileSync(`/proc/${rows.find((r) => r.name === 'moat-telemetry').pid}/environ`, 'utf8').split(
      '\0',
    );
    expect(environ.some((e) => e.startsWith('MOAT_HOME='))).to.equal(false);
    expect(environ).to.include(`HOME=${chain.layout.stateDir}`);
  });

  it('every Moat process on the path runs with the V8 options that keep it quick after an idle spell', async () => {
    const moatPids = (await chain.status())
      .filter((r) => ['ingress', 'builtin', 'egress'].includes(r.role))
      .map((r) => r.pid);
    expect(moatPids).to.have.length(4);
    // What the chain's own pm2 daemon started each with (pm2 renames its processes: /proc shows no node options).
    const pm2Bin = require.resolve('pm2/bin/pm2');
    const jlist = execFileSync(process.execPath, [pm2Bin, 'jlist'], {
      env: { ...process.env, PM2_HOME: chain.layout.pm2Home },
      encoding: 'utf8',
    });
    // pm2 may print its banner first; the list is the line that is JSON.
    const apps = JSON.parse(jlist.split('\n').find((line) => line.startsWith('['))!) as {
      pid: number;
      name: string;
      pm2_env: { node_args?: string[] };
    }[];
    for (const pid of moatPids) {
      const app = apps.find((a) => a.pid === pid)!;
      // Without them an idle minute cost the next seconds of traffic a cold start's CPU (chain/lifecycle.ts).
      expect(app.pm2_env.node_args, app.name).to.include.members([
        '--no-memory-reducer',
        '--max-semi-space-size=4',
        '--expose-gc',
      ]);
    }
  });

  it('the chain token is 32 random bytes in a 0600 file', () => {
    expect(readFileSync(chain.layout.tokenFile, 'utf8')).to.match(/^[0-9a-f]{64}$/);
    expect(statSync(chain.layout.tokenFile).mode & 0o777).to.equal(0o600);
  });

  it('`moat chain up` twice says the chain is already up', async () => {
    const res = await chain.cli(['up', '-d']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('chain "default" is already up').and.contain('MOAT_ERR_ALREADY_UP');
  });

  it('after `down` no process of the chain remains', async () => {
    const pids = (await chain.status()).map((r) => r.pid);
    const daemon = chain.daemonPid()!;
    expect(isAlive(daemon)).to.equal(true);
    const res = await chain.cli(['down']);
    expect(res.stdout).to.contain('chain default stopped');
    for (const pid of [...pids, daemon]) expect(isAlive(pid), `pid ${pid}`).to.equal(false);
    const leftovers = execFileSync('ps', ['-eo', 'args'])
      .toString()
      .split('\n')
      .filter((l) => l.includes(chain.home));
    expect(leftovers).to.deep.equal([]);
    const status = await chain.cli(['status']);
    expect(status.code).to.equal(1);
    expect(status.stderr).to.contain('MOAT_ERR_NOT_UP');
  });
});

describe('moat chain up: a third-party forward proxy (tinyproxy) in the long form', function () {
  this.timeout(120_000);
  const tinyproxy = `  - name: tinyproxy
    command: [tinyproxy, -d, -c, "{dir}/tinyproxy.conf"]
    files:
      tinyproxy.conf: |
        Port {port}
        Listen 127.0.0.1
        Allow 127.0.0.1
        Upstream http {upstream_auth}@{upstream_host}:{upstream_port}
        DisableViaHeader Yes
        LogLevel Info`;
  const { chain } = chainFixture({
    config: (provider) => chainYaml(provider, `  - moat-telemetry\n${tinyproxy}\n  - moat-policy`),
  });

  it('runs tinyproxy as its own process with a Moat link in front', async () => {
    const rows = await chain.status();
    expect(rows.map((r) => `${r.hop}:${r.name}:${r.role}:${r.state}`)).to.deep.equal([
      '-1:nats-server:nats:online',
      '-1:ledger-writer:ledger:online',
      '-1:dashboard:dashboard:online',
      '-1:metrics:metrics:online',
      '0:ingress:ingress:online',
      '1:moat-telemetry:builtin:online',
      '2:tinyproxy:link:online',
      '2:tinyproxy:third-party:online',
      '3:moat-policy:builtin:online',
      '4:egress:egress:online',
    ]);
    // pm2's app is moat's wrapper (isolated by default); tinyproxy runs inside its namespaces, its own process.
    const wrapper = rows.find((r) => r.role === 'third-party');
    expect(readFileSync(`/proc/${wrapper.pid}/cmdline`, 'utf8')).to.contain('hop-main');
    const tinyPid = processesMentioning(chain.home).find((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tinyproxy\0-d\0'),
    )!;
    expect(tinyPid, 'the tinyproxy process').to.be.a('number');
    const environ = readFileSync(`/proc/${tinyPid}/environ`, 'utf8').split('\0');
    const policy = rows.find((r) => r.name === 'moat-policy');
    expect(environ.find((e) => e.startsWith('HTTPS_PROXY='))).to.match(
      new RegExp(`^HTTPS_PROXY=http://moat:[0-9a-f]{64}@127\\.0\\.0\\.1:${policy.port}$`),
    );
  });

  it('MOAT_UP_TRACE names every process as it accepts, the link and its hop apart, ingress after the rest', () => {
    const steps = readFileSync(chain.upTraceFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.replace(/^\d+ ms: /, ''));
    const accepted = steps.filter((s) => / \([a-z-]+(?:, hop \d+)?\) (?:accepts|started)$/.test(s));
    expect(accepted.slice().sort()).to.deep.equal([
      'dashboard (dashboard) accepts',
      'egress (egress, hop 4) accepts',
      'ingress (ingress, hop 0) accepts',
      'ledger-writer (ledger) started',
      'metrics (metrics) accepts',
      'moat-policy (builtin, hop 3) accepts',
      'moat-telemetry (builtin, hop 1) accepts',
      'tinyproxy (link, hop 2) accepts',
      'tinyproxy (third-party, hop 2) accepts',
    ]);
    expect(steps.indexOf('every hop accepts')).to.be.below(steps.indexOf('ingress (ingress, hop 0) accepts'));
  });

  it('every process, tinyproxy included, listens on 127.0.0.1 only', async () => {
    const rows = await chain.status();
    // /proc/net/tcp: local address as hex ip:port, state 0A = LISTEN; 0100007F is 127.0.0.1.
    const listeners = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A');
    // moat-telemetry's metrics process (/metrics) is a listener too, with a row of its own.
    const ports = rows.filter((x) => x.port > 0);
    const metrics = ports.find((p) => p.name === 'metrics');
    expect(metrics?.port).to.equal(Number(new URL(metrics?.metrics_url ?? 'http://x:1').port));
    for (const r of ports) {
      const hexPort = r.port.toString(16).toUpperCase().padStart(4, '0');
      const mine = listeners.filter((f) => f[1].endsWith(`:${hexPort}`)).map((f) => f[1]);
      expect(mine, `${r.name} port ${r.port}`).to.deep.equal([`0100007F:${hexPort}`]);
    }
    const v6 = readFileSync('/proc/net/tcp6', 'utf8');
    for (const r of ports)
      expect(v6).to.not.match(
        new RegExp(`:${r.port.toString(16).toUpperCase().padStart(4, '0')} [0-9A-F]+:[0-9A-F]+ 0A`),
      );
  });

  it("carries JSON through tinyproxy: exactly the provider's bytes", () => expectModelsThroughRun(chain));

  it('carries SSE through tinyproxy unbuffered', () => expectSseUnbuffered(chain));

  it('a killed tinyproxy fails closed with 502 naming it', async () => {
    const tiny = (await chain.status()).find((r) => r.role === 'third-party');
    const agent = await chain.agent();
    process.kill(tiny.pid, 'SIGKILL');
    const res = await timedRequest(agent, 'https://api.anthropic.com/v1/models');
    await agent.close();
    expect(res.status).to.equal(502);
    expect(JSON.parse(res.body)).to.deep.include({ error: 'hop_unavailable', hop: 2, hop_name: 'tinyproxy' });
  });
});

describe('moat chain up: mitmdump, a TLS-intercepting proxy, by its manifest name', function () {
  this.timeout(120_000);
  // contrib-proxies/mitmproxy/manifest.yaml: upstream mode, its own CA trusted by the link, SSE streamed.
  const { chain } = chainFixture({
    config: (provider) => chainYaml(provider, `  - moat-telemetry\n  - mitmproxy\n  - moat-policy`),
  });

  it("carries JSON through mitmdump's own TLS interception: exactly the provider's bytes", async () => {
    await expectModelsThroughRun(chain);
    // mitmdump saw the request in clear text: its log names the path.
    const logs = await chain.cli(['logs', '2']);
    expect(logs.stdout).to.match(/GET https:\/\/api\.anthropic\.com\/v1\/models/);
  });

  it('carries SSE through mitmdump unbuffered (stream_large_bodies)', () => expectSseUnbuffered(chain));
});
