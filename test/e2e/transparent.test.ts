// `moat chain run --transparent`: the agent runs in a network namespace of its own with no proxy
// settings; its HTTPS and HTTP reach the chain through the run process, every name resolves, and nothing
// else of this machine (or beyond) is reachable from inside.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { networkInterfaces, tmpdir } from 'node:os';
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
import { FakeProvider, MODELS_BODY, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { CliChain, MOAT_BIN } from '../helpers/cli-chain';
import { tmpDir } from '../helpers/tmp';
import { findOnPath } from '../../supervisor/chain/find-on-path';
import { DIST_DIR } from '../helpers/repo-root';
import { namespacesUnavailable } from '../helpers/namespaces';

/** Command lines of every process on this machine (to find what a run left behind). */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** A non-loopback IPv4 address of this machine, where there is one. */
function hostAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

// Run inside the namespace: tries each TCP address and sends each UDP datagram, prints what happened.
const PROBE = `
const net = require('net'), dgram = require('dgram');
const [tcp, udp] = JSON.parse(process.argv[1]);
const tryTcp = ([host, port]) => new Promise((resolve) => {
  const s = net.connect(port, host);
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('error', (e) => resolve(e.code));
  setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000).unref();
});
const sendUdp = ([host, port]) => new Promise((resolve) => {
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => { s.close(); resolve(e.code); });
  s.send('hello', port, host, (err) => {
    if (err) { s.close(); return resolve(err.code); }
    setTimeout(() => { s.close(); resolve('sent'); }, 300);
  });
});
(async () => {
  const out = { tcp: [], udp: [] };
  for (const t of tcp) out.tcp.push([t.join(':'), await tryTcp(t)]);
  for (const u of udp) out.udp.push([u.join(':'), await sendUdp(u)]);
  console.log(JSON.stringify(out));
})();
`;

// A Node agent with no proxy settings at all: https.get, trusting the Moat CA through NODE_EXTRA_CA_CERTS.
const NODE_AGENT = `
const https = require('https');
const proxyVars = Object.keys(process.env).filter((k) => /^(https?|all|no)_proxy$/i.test(k));
https.get(process.argv[1], (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () =>
    console.log(JSON.stringify({ status: res.statusCode, body, proxyVars, env: JSON.stringify(process.env) })));
}).on('error', (e) => { console.error(e.message); process.exit(1); });
`;

const DNS_AGENT = `
const dns = require('dns');
(async () => {
  const out = {};
  out.lookup = await dns.promises.lookup(process.argv[1]);
  out.resolve4 = await dns.promises.resolve4('another.name.example');
  out.resolve6 = await dns.promises.resolve6(process.argv[1]).catch((e) => e.code);
  console.log(JSON.stringify(out));
})();
`;

describe('moat chain run --transparent: the agent in a network namespace, without proxy settings', function () {
  this.timeout(120_000);
  const chain = new CliChain();
  let provider: FakeProvider;
  let plain: http.Server;
  const plainSeen: { host?: string; url?: string }[] = [];
  const run = (command: string[], env: NodeJS.ProcessEnv = {}) =>
    chain.cli(['run', '--transparent', '--', ...command], env);

  before(async function () {
    const why = namespacesUnavailable();
    if (why) {
      console.log(`      skipped: network namespaces are not available here: ${why}`);
      this.skip();
    }
    provider = await new FakeProvider().start();
    plain = http.createServer((req, res) => {
      plainSeen.push({ host: req.headers.host, url: req.url });
      res.end('plain hello\n');
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const plainPort = (plain.address() as net.AddressInfo).port;
    // Egress reaches only these two local servers: nothing can leave the machine.
    chain.writeConfig(`proxies:
  - moat-telemetry
egress:
  allow: [api.anthropic.com, plain.test]
  resolve:
    "api.anthropic.com:443": "127.0.0.1:${provider.port}"
    "plain.test:80": "127.0.0.1:${plainPort}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`);
    await chain.up();
  });

  after(async () => {
    await chain.cleanup();
    await provider?.stop();
    plain?.close();
  });

  /** The events of the requests sent with User-Agent `agent` (events keep paths without their query). */
  async function eventsOf(agent: string, count: number): Promise<any[]> {
    let events: any[] = [];
    for (let i = 0; i < 50 && events.length < count; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const all = await chain.events();
      const traces = new Set(all.filter((e) => e.headers?.['user-agent'] === agent).map((e) => e.trace));
      events = all.filter((e) => traces.has(e.trace));
    }
    return events;
  }

  it('curl with no proxy reaches the provider through the chain, and the ledger has it', async () => {
    const path = `/v1/models?t=${randomBytes(4).toString('hex')}`;
    const agent = `transparent-curl-${randomBytes(4).toString('hex')}`;
    const res = await run(['curl', '-sS', '--fail', '-A', agent, '--noproxy', '*', `https://api.anthropic.com${path}`]);
    expect(res.stderr).to.equal('');
    expect(res.code).to.equal(0);
    expect(res.stdout).to.equal(MODELS_BODY);
    const seen = provider.seen.filter((s) => s.path === path);
    expect(seen).to.have.length(1);
    expect(seen[0].host).to.equal('api.anthropic.com');
    // Both boundaries, both ways: what the agent sent (recorded by moat-telemetry, hop 1) and what egress sent on.
    const events = await eventsOf(agent, 4);
    expect(events.map((e) => `${e.boundary}:${e.hop_name}:${e.direction}:${e.host}`).sort()).to.deep.equal([
      '0:moat-telemetry:request:api.anthropic.com',
      '0:moat-telemetry:response:api.anthropic.com',
      '1:egress:request:api.anthropic.com',
      '1:egress:response:api.anthropic.com',
    ]);
    expect(events.find((e) => e.direction === 'response').status).to.equal(200);
  });

  it(
    'a Node agent with https.get and no proxy settings gets the same; proxy variables and the chain token are ' +
      'not in its environment',
    async () => {
      // Set outside: a transparent run takes proxy settings out (no proxy is reachable from the namespace).
      const res = await run([process.execPath, '-e', NODE_AGENT, 'https://api.anthropic.com/v1/models'], {
        HTTPS_PROXY: 'http://127.0.0.1:9',
        no_proxy: '*',
      });
      expect(res.code, res.stderr).to.equal(0);
      const out = JSON.parse(res.stdout);
      expect(out.status).to.equal(200);
      expect(out.body).to.equal(MODELS_BODY);
      expect(out.proxyVars).to.deep.equal([]);
      expect(out.env).to.not.contain(readFileSync(chain.layout.tokenFile, 'utf8').trim());
      // The run's own copy of the CA: MOAT_HOME is covered inside the namespace
      // (test/security/transparent-hiding.test.ts).
      expect(JSON.parse(out.env).NODE_EXTRA_CA_CERTS).to.match(/\/moat-run-[^/]+\/ca\.crt$/);
    },
  );

  it('plain HTTP on port 80 goes through the chain by its Host header', async () => {
    const path = `/hello?t=${randomBytes(4).toString('hex')}`;
    const agent = `transparent-plain-${randomBytes(4).toString('hex')}`;
    const res = await run(['curl', '-sS', '--fail', '-A', agent, `http://plain.test${path}`]);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal('plain hello\n');
    expect(plainSeen.find((s) => s.url === path)?.host).to.equal('plain.test');
    const events = await eventsOf(agent, 4);
    expect(
      events.filter((e) => e.boundary === 0 && e.direction === 'request').map((e) => [e.scheme, e.host]),
    ).to.deep.equal([['http', 'plain.test']]);
  });

  it('a destination egress does not allow is denied by the chain, not reached', async () => {
    const res = await run(['curl', '-sS', '-w', '%{http_code}', 'https://elsewhere.example/']);
    expect(res.stdout.slice(-3)).to.equal('403');
    expect(JSON.parse(res.stdout.slice(0, -3)).error).to.equal('egress_denied');
  });

  it('every name resolves (glibc and Node), to the capture address; AAAA is empty', async () => {
    const getent = await run(['getent', 'ahostsv4', 'any-name.example.org']);
    expect(getent.code, getent.stderr).to.equal(0);
    expect(getent.stdout.split('\n')[0]).to.match(/^198\.18\.0\.1\s+STREAM any-name\.example\.org/);
    const node = await run([process.execPath, '-e', DNS_AGENT, 'api.anthropic.com']);
    expect(node.code, node.stderr).to.equal(0);
    expect(JSON.parse(node.stdout)).to.deep.equal({
      lookup: { address: '198.18.0.1', family: 4 },
      resolve4: ['198.18.0.1'],
      resolve6: 'ENODATA',
    });
  });

  it("nothing else of this machine is reachable from inside: other ports, the chain's own listeners, UDP", async () => {
    const seen: string[] = [];
    const addresses = ['127.0.0.1', ...(hostAddress() ? [hostAddress()!] : [])];
    const tcpServers: net.Server[] = [];
    const udpSockets: dgram.Socket[] = [];
    const tcp: [string, number][] = [];
    const udp: [string, number][] = [];
    try {
      for (const address of addresses) {
        const server = net.createServer((s) => {
          seen.push(`tcp ${address}`);
          s.destroy();
        });
        await new Promise<void>((r) => server.listen(0, address, r));
        tcpServers.push(server);
        tcp.push([address, (server.address() as net.AddressInfo).port]);
        const socket = dgram.createSocket('udp4');
        socket.on('message', () => seen.push(`udp ${address}`));
        await new Promise<void>((r) => socket.bind(0, address, r));
        udpSockets.push(socket);
        udp.push([address, socket.address().port]);
      }
      const ingress = (await chain.status()).find((r) => r.name === 'ingress').port;
      // The chain's ingress and the provider itself: only the relay (ports 443 and 80) leads into the chain.
      tcp.push(['127.0.0.1', ingress], ['127.0.0.1', provider.port], ['198.18.0.1', tcp[0][1]], ['203.0.113.7', 22]);
      const res = await run([process.execPath, '-e', PROBE, JSON.stringify([tcp, udp])]);
      expect(res.code, res.stderr).to.equal(0);
      const out = JSON.parse(res.stdout) as { tcp: [string, string][]; udp: [string, string][] };
      for (const [where, result] of out.tcp)
        expect(result, where).to.be.oneOf(['ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH']);
      // A datagram may leave the socket; it never arrives anywhere outside the namespace.
      for (const [where, result] of out.udp)
        expect(result, where).to.be.oneOf(['sent', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH']);
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).to.deep.equal([]);
    } finally {
      for (const s of tcpServers) s.close();
      for (const s of udpSockets) s.close();
    }
  });

  it("the command runs as the caller's user and cannot change the namespace's network", async () => {
    const id = await run(['id', '-u']);
    expect(id.stdout.trim()).to.equal(String(process.getuid!()));
    const ip = await run(['ip', 'addr', 'add', '203.0.113.1/32', 'dev', 'lo']);
    expect(ip.code).to.not.equal(0);
    expect(ip.stderr).to.contain('Operation not permitted');
  });

  it("returns the command's exit code", async () => {
    expect((await run(['sh', '-c', 'exit 7'])).code).to.equal(7);
  });

  it('SIGTERM to `run` reaches the command', async () => {
    const script =
      'process.on("SIGTERM", () => { console.log("got TERM"); process.exit(42); }); console.log("ready"); ' +
      'setInterval(() => {}, 1000);';
    const child = spawn(
      process.execPath,
      [MOAT_BIN, 'chain', 'run', '-f', chain.configFile, '--transparent', '--', process.execPath, '-e', script],
      { env: chain.env },
    );
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    expect(await until(() => stdout.includes('ready'), 10_000)).to.equal(true);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    expect(stdout).to.contain('got TERM');
    expect(code).to.equal(42);
  });

  it(
    'leaves nothing behind: what the command started in the ' + 'background, or everything when `run` is killed',
    async () => {
      const marker = `29${randomBytes(3).readUIntBE(0, 3)}`;
      const res = await run(['sh', '-c', `sleep ${marker} & echo started`]);
      expect(res.stdout).to.equal('started\n');
      expect(await until(() => !commandLines().some((c) => c.includes(`sleep ${marker}`)))).to.equal(true);

      const marker2 = `28${randomBytes(3).readUIntBE(0, 3)}`;
      const runDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('moat-run-'));
      const runDirsBefore = new Set(runDirs());
      const child = spawn(
        process.execPath,
        [MOAT_BIN, 'chain', 'run', '-f', chain.configFile, '--transparent', '--', 'sleep', marker2],
        { env: chain.env, stdio: 'ignore' },
      );
      expect(
        await until(() => commandLines().some((c) => c === `sleep ${marker2} `), 10_000),
        'the command started',
      ).to.equal(true);
      const ours = runDirs().filter((n) => !runDirsBefore.has(n));
      expect(ours, 'the copy of the CA made for this run').to.have.length(1);
      child.kill('SIGKILL');
      expect(
        await until(() => !commandLines().some((c) => c.includes(`sleep ${marker2}`))),
        'the command is gone',
      ).to.equal(true);
      const ourDir = join(tmpdir(), ours[0]);
      expect(await until(() => !existsSync(ourDir)), `${ourDir} is removed`).to.equal(true);
      // And a new run works as before.
      expect((await run(['curl', '-sS', 'https://api.anthropic.com/v1/models'])).stdout).to.equal(MODELS_BODY);
    },
  );

  it('where namespaces cannot be made, MOAT_ERR_NAMESPACES says why and what to do', async () => {
    const dir = tmpDir('moat-ns-');
    try {
      // unshare refused by the kernel, as where user namespaces are off.
      const refusing = join(dir.path, 'refusing');
      mkdirSync(refusing);
      writeFileSync(
        join(refusing, 'unshare'),
        '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n',
      );
      chmodSync(join(refusing, 'unshare'), 0o755);
      const refused = await run(['true'], { PATH: `${refusing}:${process.env.PATH}` });
      expect(refused.code).to.equal(1);
      expect(refused.stderr)
        .to.contain(
          'run --transparent cannot create its network namespace (unshare: unshare failed: Operation not permitted)',
        )
        .and.contain('MOAT_ERR_NAMESPACES');
      // ip missing.
      const noIp = join(dir.path, 'no-ip');
      mkdirSync(noIp);
      symlinkSync(findOnPath('unshare')!, join(noIp, 'unshare'));
      const missing = await run(['true'], { PATH: noIp });
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.contain('needs `ip` (package iproute2)').and.contain('MOAT_ERR_NAMESPACES');
    } finally {
      dir.remove();
    }
  });

  it('--transparent goes with run only', async () => {
    const res = await chain.cli(['status', '--transparent']);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.contain('MOAT_ERR_USAGE');
  });
});

// Most people are not root: the same namespaces through an unprivileged user namespace. No chain here (its state
// is root's): the run's outside end talks to a stand-in ingress that answers every CONNECT with the line it got.
const UNPRIVILEGED_RUN = `
const net = require('net');
const { runTransparent } = require(${JSON.stringify(join(DIST_DIR, 'supervisor', 'transparent', 'run.js'))});
const ingress = net.createServer((s) => s.once('data', (d) => {
  const line = d.toString('latin1').split('\\r\\n')[0];
  s.write('HTTP/1.1 200 OK\\r\\n\\r\\n');
  s.once('data', () =>
    s.end('HTTP/1.1 200 OK\\r\\ncontent-length: ' + line.length + '\\r\\nconnection: close\\r\\n\\r\\n' + line));
}));
ingress.listen(0, '127.0.0.1', () => {
  runTransparent({ command: process.argv.slice(1), env: process.env, ingressPort: ingress.address().port, token: 't' })
    .then(
      (code) => { ingress.close(); process.exitCode = code; },
      (err) => { console.error(err.code, err.message); process.exit(99); },
    );
});
`;

describe('moat chain run --transparent: as an unprivileged user', function () {
  this.timeout(30_000);
  const setpriv = findOnPath('setpriv');
  const asNobody = (command: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        setpriv!,
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', UNPRIVILEGED_RUN, ...command],
        { cwd: '/', timeout: 20_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr }),
      );
    });

  before(async function () {
    if (process.getuid!() !== 0 || !setpriv) {
      console.log('      skipped: needs root (to become another user) and setpriv');
      return this.skip();
    }
    const probe = await asNobody(['true']);
    if (probe.code === 99 && probe.stderr.includes('MOAT_ERR_NAMESPACES')) {
      console.log(`      skipped: this system refuses user namespaces to unprivileged users: ${probe.stderr.trim()}`);
      this.skip();
    }
  });

  it(
    'runs the command as that user, relays its traffic by ' + 'Host, and keeps it out of the network settings',
    async () => {
      const res = await asNobody([
        'sh',
        '-c',
        'id -u; curl -sS http://unprivileged.example/x; echo; ip addr add 203.0.113.1/32 dev lo 2>&1; exit 5',
      ]);
      expect(res.code, res.stderr).to.equal(5);
      const [uid, relayed, ip] = res.stdout.trim().split('\n');
      expect(uid).to.equal('65534');
      expect(relayed).to.equal('CONNECT unprivileged.example:80 HTTP/1.1');
      expect(ip).to.contain('Operation not permitted');
    },
  );
});
