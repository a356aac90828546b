// The CLI's own behaviour without a running chain: plan, ca, and how errors are shown.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { CliChain } from '../helpers/cli-chain';

// These chains never carry traffic; egress still allows no host at all, like every test chain.
const NO_EGRESS = 'egress:\n  allow: []\n';

describe('moat CLI', function () {
  this.timeout(30_000);
  const chain = new CliChain();
  after(() => chain.cleanup());

  it('`plan --json` resolves every process without starting any, and hides the token', async () => {
    const plan = await chain.plan(
      'proxies:\n  - moat-telemetry\n  - name: tp\n    command: [tinyproxy, -c, "{dir}/t.conf"]\n    env: { ' +
        'UP: "{upstream}" }\n',
    );
    expect(plan.processes.map((p: any) => `${p.hop}:${p.role}:${p.name}`)).to.deep.equal([
      '0:ingress:ingress',
      '1:builtin:moat-telemetry',
      '2:link:tp',
      '2:third-party:tp',
      '3:egress:egress',
    ]);
    const tp = plan.processes[3];
    expect(tp.env.UP).to.equal(`http://moat:***@127.0.0.1:${plan.processes[4].port}`);
    expect(tp.command).to.deep.equal(['tinyproxy', '-c', `${chain.layout.stateDir}/hops/2-tp/t.conf`]);
    expect(chain.daemonPid()).to.equal(undefined);
  });

  it('`plan` shows a readable table', async () => {
    const res = await chain.cli(['plan']);
    expect(res.stdout).to.match(/hop\s+name\s+role\s+port\s+forwards to/);
    expect(res.stdout).to.match(/1\s+moat-telemetry\s+builtin\s+\d+\s+2-link/);
  });

  it('`ca` creates the CA once and prints its path and SHA-256 fingerprint', async () => {
    const first = await chain.cli(['ca', '--json']);
    const info = JSON.parse(first.stdout);
    expect(info.created).to.equal(true);
    expect(info.certFile).to.equal(`${chain.home}/ca.crt`);
    expect(info.fingerprint).to.equal(new X509Certificate(readFileSync(info.certFile)).fingerprint256);
    const again = await chain.cli(['ca']);
    expect(again.stdout).to.contain(info.fingerprint).and.not.contain('created now');
  });

  it('an invalid config gives file, line and key, exit 1, and no stack trace', async () => {
    chain.writeConfig('proxies:\n  - moat-telemetry\n  - moat-polcy\n');
    const res = await chain.cli(['up', '-d']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.equal(
      `moat: ${chain.configFile}:3:5: proxies[1]: unknown hop "moat-polcy" (did you mean "moat-policy"?) ` +
        `(known: moat-telemetry, moat-policy, agentreserve, chopratejas/headroom, claude-code-router, ` +
        `fuergaosi233/claude-code-proxy, mitmproxy, seifghazi/claude-code-proxy, tinyproxy; any other proxy ` +
        `needs the long form {name, command})\n(MOAT_ERR_UNKNOWN_HOP)\n`,
    );
    expect(chain.daemonPid()).to.equal(undefined);
  });

  it('init writes a starter that plan accepts, and refuses to overwrite it', async () => {
    const file = chain.configFile + '.init.yaml';
    const first = await chain.cli(['init', '-f', file]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain(`wrote ${file}`);
    const plan = await chain.cli(['plan', '-f', file, '--json']);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(JSON.parse(plan.stdout).processes.map((p: any) => p.name)).to.deep.equal([
      'ingress',
      'moat-telemetry',
      'moat-policy',
      'egress',
    ]);
    const json = await chain.cli(['init', '-f', file + '.2', '--json']);
    expect(JSON.parse(json.stdout)).to.deep.equal({ wrote: file + '.2' });
    const again = await chain.cli(['init', '-f', file]);
    expect(again.code).to.equal(1);
    expect(again.stderr)
      .to.contain('already exists; moat chain init never overwrites')
      .and.contain('MOAT_ERR_CONFIG_EXISTS');
  });

  it('a third-party binary that is not installed is named with its hop before anything starts', async () => {
    chain.writeConfig('proxies:\n  - name: ghost\n    command: [no-such-proxy-binary, --port, "{port}"]\n');
    const res = await chain.cli(['up', '-d']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain(
      `${chain.configFile}:3:15: proxies[0].command[0]: "no-such-proxy-binary" (hop 1, ghost) is not ` +
        `installed or not on PATH`,
    );
    expect(res.stderr).to.contain('MOAT_ERR_BINARY_NOT_FOUND').and.not.contain('    at ');
    expect(chain.daemonPid()).to.equal(undefined);
  });

  it('a manifest hop whose binary is missing says how to install it', async () => {
    chain.writeConfig('proxies:\n  - moat-telemetry\n  - chopratejas/headroom\n');
    const res = await chain.cli(['up', '-d'], { PATH: '/usr/bin:/bin' });
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain(
      `${chain.configFile}:3:5: proxies[1]: "headroom" (hop 2, chopratejas/headroom) is not installed or not ` +
        'on PATH; install it with: pipx install headroom-ai (or: pip install headroom-ai in a venv whose bin is ' +
        'on PATH)',
    );
    expect(chain.daemonPid()).to.equal(undefined);
  });

  it('a hop that never listens stops `up` with its log, and nothing is left running', async () => {
    chain.writeConfig(
      'proxies:\n  - name: mute\n    command: [sh, -c, "echo mute proxy starting; sleep 600"]\n' + NO_EGRESS,
    );
    const res = await chain.cli(['up', '-d'], {}, 60_000);
    expect(res.code).to.equal(1);
    expect(res.stderr)
      .to.contain('hop 1 (mute) did not accept connections')
      .and.contain('mute proxy starting')
      .and.contain('MOAT_ERR_HOP_NOT_READY');
    const pid = chain.daemonPid();
    if (pid) expect(() => process.kill(pid, 0)).to.throw();
  });

  it('a fixed ingress.port that is taken is named before anything starts', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      chain.writeConfig(`proxies: []\ningress:\n  port: ${port}\n` + NO_EGRESS);
      const res = await chain.cli(['up', '-d']);
      expect(res.code).to.equal(1);
      expect(res.stderr)
        .to.contain(`${chain.configFile}:3:9: ingress.port: 127.0.0.1:${port} is already in use`)
        .and.contain('MOAT_ERR_PORT_IN_USE');
      expect(chain.daemonPid()).to.equal(undefined);
    } finally {
      busy.close();
    }
  });

  it('usage errors exit 2 with the usage text', async () => {
    const res = await chain.cli(['frobnicate']);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.contain('unknown command "chain frobnicate"').and.contain('usage: moat chain');
  });

  it('status on a chain that is not up says so', async () => {
    chain.writeConfig('proxies: []\n');
    const res = await chain.cli(['status']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('chain is not running').and.contain('MOAT_ERR_NOT_UP');
  });
});
