// Node programs as agents are written, under `moat chain run`: Node 20 ignores HTTPS_PROXY for its own fetch,
// http/https and undici, so the preload in NODE_OPTIONS (supervisor/agent/node-preload.ts) routes them. The name
// api.anthropic.com does not resolve here: only egress.resolve reaches the fake provider, and the ledger shows
// each request at every boundary.
import { expect } from 'chai';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { MODELS_BODY, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { nodeClientsChain, type ClientName } from '../helpers/node-scripts';

// A program with its own agent: it reaches the provider itself (its own lookup and CA), as it did before Moat.
const OWN_AGENT = `
const https = require('node:https');
const [port, ca] = [Number(process.argv[2]), require('node:fs').readFileSync(process.argv[3])];
const agent = new https.Agent({ ca, lookup: (host, opts, cb) => opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4) });
https.request({ host: 'api.anthropic.com', port, path: '/v1/models?client=own-agent', agent }, (r) => {
  let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(r.statusCode, b));
}).on('error', (e) => { console.log('error', e.message); process.exitCode = 1; }).end();
`;

describe('moat chain run: Node programs go through the chain (the Node preload)', function () {
  this.timeout(120_000);
  const { chain, provider, clients, dir } = nodeClientsChain('moat-node-');
  // Events carry the path without its query: the traces of /v1/models requests seen so far tell a new one apart.
  // One hop: boundary 0 (what the agent sent) and 1 (what left for the provider).
  const traces = new Set<string>();
  let known = 0;
  const newRequestEvents = async (count: number) => {
    const all = await chain.ledgerEvents((e) => e.path === '/v1/models' && e.direction === 'request', known + count);
    const fresh = all.filter((e) => !traces.has(e.trace));
    for (const e of all) traces.add(e.trace);
    known = all.length;
    return fresh;
  };

  for (const name of Object.keys(clients) as ClientName[]) {
    it(`${name} reaches the provider through every boundary`, async () => {
      const path = `/v1/models?client=${encodeURIComponent(name)}`;
      const res = await chain.cli(['run', '--', process.execPath, clients[name], `https://api.anthropic.com${path}`]);
      expect(res.stdout, res.stderr).to.equal(`200 ${MODELS_BODY}\n`);
      expect(res.code).to.equal(0);
      expect(res.stderr, 'the preload prints nothing (no warning either)').to.equal('');
      expect(provider.seen.filter((s) => s.path === path)).to.have.length(1);
      const events = await newRequestEvents(2);
      expect(events.map((e) => e.boundary).sort()).to.deep.equal([0, 1]);
      expect(new Set(events.map((e) => e.trace)).size, 'one trace').to.equal(1);
    });
  }

  it('a program that passes its own agent keeps it (direct, no chain events)', async () => {
    const file = join(dir.path, 'own-agent.js');
    writeFileSync(file, OWN_AGENT);
    const res = await chain.cli(['run', '--', process.execPath, file, String(provider.port), PROVIDER_CA_FILE]);
    expect(res.stdout, res.stderr).to.equal(`200 ${MODELS_BODY}\n`);
    expect(provider.seen.filter((s) => s.path === '/v1/models?client=own-agent')).to.have.length(1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await newRequestEvents(0)).to.deep.equal([]);
  });

  it('loopback stays direct (NO_PROXY) for fetch and http.get', async () => {
    const seen: string[] = [];
    const local = http.createServer((req, res) => {
      seen.push(req.url!);
      res.end('local');
    });
    await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(local.address() as AddressInfo).port}/here`;
      for (const name of ['fetch', 'https.get'] as const) {
        const res = await chain.cli(['run', '--', process.execPath, clients[name], url]);
        expect(res.stdout, `${name}: ${res.stderr}`).to.equal('200 local\n');
      }
      expect(seen).to.deep.equal(['/here', '/here']);
    } finally {
      local.closeAllConnections();
      await new Promise((r) => local.close(r));
    }
  });

  it('`env` sets NODE_USE_ENV_PROXY=1 and adds the preload to NODE_OPTIONS, keeping the one there', async () => {
    const env = JSON.parse((await chain.cli(['env', '--json'], { NODE_OPTIONS: '--max-old-space-size=300' })).stdout);
    expect(env.NODE_USE_ENV_PROXY).to.equal('1');
    expect(env.NODE_OPTIONS).to.match(
      /^--max-old-space-size=300 --require "\/.+\/dist\/supervisor\/agent\/node-preload\.js"$/,
    );
    const lines = (await chain.cli(['env'])).stdout;
    expect(lines).to.contain(`export NODE_USE_ENV_PROXY='1'`);
    expect(lines).to.match(/export NODE_OPTIONS='--require "\/.+node-preload\.js"'/);
  });

  it('`run` keeps the NODE_OPTIONS the caller had', async () => {
    const res = await chain.cli(
      ['run', '--', process.execPath, '-p', 'process.env.NODE_OPTIONS + " " + v8.getHeapStatistics().heap_size_limit'],
      { NODE_OPTIONS: '--max-old-space-size=300' },
    );
    expect(res.stdout).to.match(/^--max-old-space-size=300 --require "\/.+node-preload\.js" \d+\n$/);
    const limit = Number(res.stdout.trim().split(' ').at(-1));
    expect(limit).to.be.within(300 << 20, 400 << 20);
  });
});
