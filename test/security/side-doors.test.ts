// The agent tries every door of a running chain but the front one (security invariant 2). It holds what
// `moat chain env` gives it (ingress's token) and can find every port (status, a scan of 127.0.0.1). Each
// Moat listener but ingress takes only the credential of the process before it, by every entrance it has:
// CONNECT, absolute-form http://, link TLS, a base-URL path, a trace claim. A third-party hop's credential
// (readable in its own config file) opens the link after it and nothing else.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { request } from 'undici';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { collect, rawExchange } from '../helpers/raw-client';
import type { Plan, PlannedProcess } from '../../supervisor/chain/plan';

const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;
const basic = (credential: string) => `Basic ${Buffer.from(`moat:${credential}`).toString('base64')}`;

/** The first line of what a listener answers to `payload`, sent on a new plain connection. */
async function statusLine(port: number, payload: string): Promise<string> {
  const reply = await rawExchange(port, payload, 3000);
  return reply.head.split('\r\n')[0];
}

/** Link TLS: a TLS connection to the listener itself (as the Moat process before it opens), then one request. */
async function overLinkTls(port: number, ca: string, requestText: string): Promise<string> {
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'moat-link.invalid', ca }, () => resolve(s));
    s.once('error', reject);
  });
  const reply = collect(secure, 3000);
  secure.write(requestText);
  return (await reply).head.split('\r\n')[0];
}

describe("side doors: the agent's token opens ingress and no other listener of the chain", function () {
  this.timeout(180_000);
  let plan: Plan;
  let agentToken: string;
  let moatCa: string;

  const { chain, provider } = chainFixture({
    name: 'doors',
    config: (provider) => `name: doors
proxies:
  - moat-telemetry
  - use: tinyproxy
  - moat-policy
policy:
  rules:
    - match: "api.anthropic.com/admin/*"
      action: deny
      reason: admin API is off limits
grants: [anthropic]
${egressTo(provider.port)}
`,
    up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
  });

  before(() => {
    plan = JSON.parse(readFileSync(chain.layout.planFile, 'utf8'));
    agentToken = readFileSync(chain.layout.tokenFile, 'utf8').trim();
    moatCa = readFileSync(chain.layout.caCertFile, 'utf8');
  });

  const moatListeners = (): PlannedProcess[] => plan.processes.filter((p) => p.spec && p.role !== 'ingress');
  const adminRequests = () => provider.seen.filter((r) => r.path.startsWith('/admin'));

  it('through ingress: the admin API is denied, other calls pass with the real key put in at egress', async () => {
    const agent = await chain.agent();
    const denied = await request('https://api.anthropic.com/admin/users', { dispatcher: agent });
    expect(denied.statusCode).to.equal(403);
    await denied.body.text();
    const allowed = await request('https://api.anthropic.com/v1/models', {
      dispatcher: agent,
      headers: { 'x-api-key': JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).placeholders.ANTHROPIC_API_KEY },
    });
    expect(allowed.statusCode).to.equal(200);
    await allowed.body.text();
    await agent.close();
    expect(provider.seen.at(-1)!.headers['x-api-key']).to.equal(REAL_KEY);
    expect(adminRequests()).to.have.length(0);
  });

  it("CONNECT with the agent's token, or none, is refused 407 by every other Moat listener", async () => {
    for (const p of moatListeners()) {
      for (const auth of [`Proxy-Authorization: ${basic(agentToken)}\r\n`, '']) {
        const line = await statusLine(
          p.port,
          `CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n${auth}\r\n`,
        );
        expect(line, `${p.id} CONNECT ${auth ? 'with the agent token' : 'without credential'}`).to.match(
          /^HTTP\/1\.1 407/,
        );
      }
    }
  });

  it("absolute-form http:// with the agent's token is refused 407 by every other Moat listener", async () => {
    for (const p of moatListeners()) {
      const line = await statusLine(
        p.port,
        `GET http://api.anthropic.com/admin/users HTTP/1.1\r\nHost: ` +
          `api.anthropic.com\r\nProxy-Authorization: ${basic(agentToken)}\r\nConnection: close\r\n\r\n`,
      );
      expect(line, p.id).to.match(/^HTTP\/1\.1 407/);
    }
  });

  it("link TLS (absolute-form https:// inside TLS to the listener) with the agent's token is refused 407", async () => {
    for (const p of moatListeners()) {
      const line = await overLinkTls(
        p.port,
        moatCa,
        `GET https://api.anthropic.com/admin/users HTTP/1.1\r\nHost: ` +
          `api.anthropic.com\r\nProxy-Authorization: ${basic(agentToken)}\r\nConnection: close\r\n\r\n`,
      );
      expect(line, p.id).to.match(/^HTTP\/1\.1 407/);
    }
  });

  it("a base-URL path with the agent's token, and a trace claim with it, are refused 407", async () => {
    for (const p of moatListeners()) {
      const line = await statusLine(
        p.port,
        `GET /_moat/${agentToken}/https/api.anthropic.com/admin/users HTTP/1.1\r\nHost: ` +
          `127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      expect(line, `${p.id} base URL`).to.match(/^HTTP\/1\.1 407/);
    }
    const link = plan.processes.find((p) => p.role === 'link')!;
    const claim = await statusLine(
      link.port,
      `GET /_moat/claim?method=GET&host=api.anthropic.com&path=%2F HTTP/1.1\r\nHost: ` +
        `127.0.0.1\r\nProxy-Authorization: ${basic(agentToken)}\r\nConnection: close\r\n\r\n`,
    );
    expect(claim).to.match(/^HTTP\/1\.1 407/);
  });

  it('the credential a third-party hop holds opens the link after it and no other listener', async () => {
    const hop = plan.processes.find((p) => p.role === 'third-party')!;
    const conf = readFileSync(join(hop.cwd!, 'tinyproxy.conf'), 'utf8');
    const held = /Upstream http moat:([0-9a-f]{64})@/.exec(conf)![1];
    expect(held).to.not.equal(agentToken);
    const after = plan.processes[plan.processes.indexOf(hop) + 1];
    for (const p of moatListeners().filter((x) => x !== after)) {
      const line = await statusLine(
        p.port,
        `CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nProxy-Authorization: ` +
          `${basic(held)}\r\n\r\n`,
      );
      expect(line, p.id).to.match(/^HTTP\/1\.1 407/);
    }
    // The link after it takes it (that is what the hop's upstream setting is for).
    const own = await statusLine(
      after.port,
      `CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nProxy-Authorization: ` +
        `${basic(held)}\r\n\r\n`,
    );
    expect(own).to.match(/^HTTP\/1\.1 200/);
  });

  it('no attack reached the provider; each refusal is logged naming the listener; the ledger verifies', async () => {
    expect(adminRequests()).to.have.length(0);
    await new Promise((r) => setTimeout(r, 300)); // log lines leave in 20 ms batches
    const egress = plan.processes.find((p) => p.role === 'egress')!;
    const log = readFileSync(join(chain.layout.logDir, `${egress.id}.log`), 'utf8');
    expect(log).to.contain(`refused: egress, listener 127.0.0.1:${egress.port}`);
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });
});
