// The Node preload (supervisor/agent/node-preload.ts) runs inside the agent with the chain token in its
// environment. It must not hand the token to anyone: not to the program's output (errors included), not to a
// server the agent reaches directly (NO_PROXY), not to the provider through the tunnel. And the NO_PROXY Moat
// sets must send nothing but loopback around the chain, however a name is spelled.
import { expect } from 'chai';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { nodeClientsChain, type ClientName } from '../helpers/node-scripts';
import { agentEnv } from '../../supervisor/commands/env';
import { stateLayout } from '../../supervisor/chain/state';
import { bypassesProxy, parseNoProxy } from '../../supervisor/agent/proxy-env';

describe('Node preload: the chain token stays with the proxy, and only loopback skips the chain', function () {
  this.timeout(180_000);
  const { chain, provider, clients } = nodeClientsChain('moat-nodesec-');
  const names = Object.keys(clients) as ClientName[];
  let secrets: string[];

  before(() => {
    const token = readFileSync(chain.layout.tokenFile, 'utf8').trim();
    secrets = [token, Buffer.from(`moat:${token}`).toString('base64')];
  });

  const expectNoSecret = (where: string, text: string) => {
    for (const s of secrets) expect(text, where).not.to.contain(s);
  };

  it('no output of a program holds the token, whether its request passed, was refused or could not connect', async () => {
    const urls = [
      'https://api.anthropic.com/v1/models', // through the chain
      'https://denied.example.com/v1/models', // refused by egress.allow
      'http://api.anthropic.com/v1/models', // plain http, absolute form
      'https://127.0.0.1:1/', // direct (NO_PROXY), nothing listens
    ];
    let errors = 0;
    for (const name of names)
      for (const url of urls) {
        const res = await chain.cli(['run', '--', process.execPath, clients[name], url]);
        expectNoSecret(`${name} ${url}`, res.stdout + res.stderr);
        if (res.stdout.startsWith('error')) errors++;
      }
    // The failures were real (so their messages were read): at least the closed port for every client.
    expect(errors).to.be.at.least(names.length);
  });

  it('nor when the proxy refuses the token (a stale environment) or cannot be reached (the chain is down)', async () => {
    const env = JSON.parse((await chain.cli(['env', '--json'])).stdout) as Record<string, string>;
    const stale = 'stale0token0from0an0earlier0up';
    const stalePair = Buffer.from(`moat:${stale}`).toString('base64');
    const variants = [
      (v: string) => v.replace(/moat:[^@]+@/, `moat:${stale}@`),
      (v: string) => v.replace(/moat:[^@]+@127\.0\.0\.1:\d+/, `moat:${stale}@127.0.0.1:1`),
    ];
    for (const variant of variants)
      for (const name of names) {
        const proxies = Object.fromEntries(
          ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy'].map((k) => [k, variant(env[k])]),
        );
        const res = await new Promise<{ out: string }>((resolve) =>
          execFile(
            process.execPath,
            [clients[name], 'https://api.anthropic.com/v1/models'],
            { env: { ...process.env, ...env, ...proxies }, timeout: 30_000 },
            (_err, stdout, stderr) => resolve({ out: stdout + stderr }),
          ),
        );
        // axios reads HTTPS_PROXY itself (absolute form to the proxy): it gets the proxy's 407 as an answer.
        expect(res.out, name).to.match(/^(error |407 )/);
        for (const s of [stale, stalePair, ...secrets]) expect(res.out, `${name}: ${res.out}`).not.to.contain(s);
      }
  });

  it('a server reached directly (NO_PROXY) gets no Proxy-Authorization and no token', async () => {
    const heads: string[] = [];
    const local = http.createServer((req, res) => {
      heads.push(JSON.stringify(req.headers) + req.url);
      res.end('ok');
    });
    await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        const url = `http://${host}:${(local.address() as AddressInfo).port}/direct`;
        for (const name of names) {
          const res = await chain.cli(['run', '--', process.execPath, clients[name], url]);
          expect(res.stdout, `${name}: ${res.stderr}`).to.equal('200 ok\n');
        }
      }
      expect(heads).to.have.length(names.length * 2);
      for (const h of heads) {
        expect(h.toLowerCase()).not.to.contain('proxy-authorization');
        expectNoSecret('direct request', h);
      }
    } finally {
      local.closeAllConnections();
      await new Promise((r) => local.close(r));
    }
  });

  it('the provider behind the tunnel never sees the token', async () => {
    const before = provider.seen.length;
    for (const name of names) {
      const res = await chain.cli(['run', '--', process.execPath, clients[name], 'https://api.anthropic.com/echo']);
      expect(res.stdout, res.stderr).to.match(/^200 /);
      expectNoSecret(`${name} echo`, res.stdout);
    }
    const seen = provider.seen.slice(before);
    expect(seen).to.have.length(names.length);
    for (const s of seen) expectNoSecret('provider', JSON.stringify(s));
  });

  it("Moat's NO_PROXY is loopback only, and no spelling of another host matches it", () => {
    const env = agentEnv(stateLayout('g', '/h'), 4000, 'tok');
    for (const value of [env.NO_PROXY, env.no_proxy])
      expect(value.split(',').sort()).to.deep.equal(['127.0.0.1', '::1', 'localhost']);
    const entries = parseNoProxy(env.no_proxy);
    const lookalikes = [
      'api.anthropic.com',
      'localhost.api.anthropic.com',
      'api.anthropic.com.localhost.evil',
      'notlocalhost',
      '127.0.0.1.nip.io',
      '127.0.0.10',
      '127.0.0.1.',
      '::11',
      '0:0:0:0:0:0:0:2',
      'localhost:443',
    ];
    for (const host of lookalikes) expect(bypassesProxy(host, 443, entries), host).to.equal(host === '127.0.0.1.');
  });
});
