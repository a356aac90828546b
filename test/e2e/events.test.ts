// Per-hop events end to end: a hop that rewrites traffic, seen in `tap`, `events` and the
// ledger; secrets redacted everywhere; `verify` on the live ledger and on an exported bundle.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { tmpDir } from '../helpers/tmp';
import { fake } from '../helpers/fake-secrets';
import { keyFiles } from '../../supervisor/ledger/writer';
import { DIST_DIR } from '../helpers/repo-root';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');
const AUTH = 'Bearer sk-ant-api03-AUTHHEADERSECRET0123456789abcdef';
const API_KEY = 'sk-ant-api03-XAPIKEYSECRET0123456789abcdefgh';
// A random key: AWS's documented example key (...EXAMPLE) is a placeholder to the DLP detectors.
const BODY_SECRET = fake.awsAccessKey();

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path);
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

describe('events: a rewriting hop seen by tap, events and the ledger', function () {
  this.timeout(120_000);
  const { chain, provider } = chainFixture({
    config: (provider) => `proxies:
  - moat-telemetry
  - name: rewriter
    command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}"]
    trust_ca: "{dir}/ca/ca.crt"
  - moat-policy
# This chain lets a body with a key through (DLP off) to check how each boundary records it.
policy:
  dlp:
    enabled: false
capture:
  bodies: redacted
${egressTo(provider.port)}
`,
  });

  let trace = '';
  let tapOutput = '';

  it('tap 2 shows exactly what the rewriting hop changed, on request and response', async () => {
    const tap = await chain.tapOne(2, async () => {
      const agent = await chain.agent();
      const body = JSON.stringify({
        model: 'claude-x',
        max_tokens: 10,
        messages: [{ role: 'user', content: `my key is ${BODY_SECRET}` }],
      });
      const res = await timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', authorization: AUTH, 'x-api-key': API_KEY },
      });
      await agent.close();
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body).rewritten).to.equal(true);
      expect(provider.seen.pop()!.body).to.contain('"model":"rewritten-model"');
    });
    expect(tap.stderr).to.contain('tapping hop 2 (rewriter)');
    expect(tap.code).to.equal(0);
    tapOutput = tap.stdout;
    const record = JSON.parse(tapOutput.trim());
    trace = record.trace;
    expect(record).to.deep.include({
      hop: 2,
      hopName: 'rewriter',
      method: 'POST',
      host: 'api.anthropic.com',
      path: '/v1/messages',
    });
    expect(record.status).to.deep.equal({ before: 200, after: 200 });
    expect(record.requestHeaders).to.deep.equal({ added: ['x-rewritten-by'], removed: [], changed: [] });
    expect(record.responseHeaders).to.deep.equal({ added: ['x-fixture-response'], removed: [], changed: [] });
    expect(record.requestBody).to.deep.equal(['model: "claude-x" -> "rewritten-model"']);
    expect(record.responseBody).to.deep.equal(['+rewritten: true']);
    expect(record.requestBytes.after - record.requestBytes.before).to.equal(
      'rewritten-model'.length - 'claude-x'.length,
    );
    expect(record.latencyMs).to.be.a('number').and.at.least(0);
  });

  it('`events --trace` shows the request at every boundary, both ways', async () => {
    let events: any[] = [];
    for (let i = 0; i < 50 && events.length < 8; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await chain.cli(['events', '--trace', trace, '--json']);
      events = res.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    }
    const seen = events.map((e) => `${e.boundary}:${e.hop_name}:${e.direction}`).sort();
    expect(seen).to.deep.equal([
      '0:moat-telemetry:request',
      '0:moat-telemetry:response',
      '1:rewriter:request',
      '1:rewriter:response',
      '2:moat-policy:request',
      '2:moat-policy:response',
      '3:egress:request',
      '3:egress:response',
    ]);
    const at = (b: number, d: string) => events.find((e) => e.boundary === b && e.direction === d);
    expect(at(1, 'request').header_names).to.not.include('x-rewritten-by');
    expect(at(2, 'request').header_names).to.include('x-rewritten-by');
    expect(at(2, 'request').body).to.contain('rewritten-model');
    expect(at(2, 'request').decision).to.equal('allow');
    expect(events.every((e) => e.correlation === 'exact' && e.trace === trace)).to.equal(true);
  });

  it('secrets leave no trace in the ledger, the logs or tap output (redacted capture)', async () => {
    const events = await chain.cli(['events', '--trace', trace, '--json']);
    const stored = filesUnder(chain.layout.stateDir)
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
    expect(stored.length).to.be.greaterThan(1000);
    for (const secret of [AUTH, API_KEY, 'AUTHHEADERSECRET', 'XAPIKEYSECRET', BODY_SECRET]) {
      expect(stored, `${secret} in the state directory`).to.not.contain(secret);
      expect(tapOutput).to.not.contain(secret);
      expect(events.stdout).to.not.contain(secret);
    }
    expect(events.stdout).to.contain('[REDACTED]');
  });

  it('`verify` passes on the live ledger', async () => {
    const res = await chain.cli(['verify']);
    expect(res.stderr).to.equal('');
    expect(res.code).to.equal(0);
    expect(res.stdout).to.match(/ledger\.db: ok, \d+ rows/);
  });

  it('`export` of the live ledger, then `verify FILE` with its key, passes', async () => {
    const out = tmpDir('moat-export-');
    try {
      const file = join(out.path, 'bundle.json');
      const exported = await chain.cli(['export', file]);
      expect(exported.code, exported.stderr).to.equal(0);
      const rows = Number(/: (\d+) rows, \d+ signed checkpoints to /.exec(exported.stdout)?.[1]);
      expect(rows).to.be.at.least(8);
      const res = await chain.cli(['verify', file, '--key', keyFiles(chain.layout.ledgerFile).publicKey]);
      expect(res.stderr).to.equal('');
      expect(res.code).to.equal(0);
      expect(res.stdout).to.contain(`bundle.json: ok, ${rows} rows`).and.contain('pinned by --key');
    } finally {
      out.remove();
    }
  });
});
