// replay --skip-hop is a side door round a hop: only the supervisor's replay, holding the chain's skip key, may open
// it, for one hop, one trace, once, and never round a policy hop. Attacked here as the agent (an ask sent to
// ingress) and as a third-party hop in front of the one to skip (a forger that adds asks to what it forwards: made
// up, signed for another trace, used twice, aimed at moat-policy or at a third-party hop marked policy: true, which
// cuts bodies holding "guard-me"). Each test fails with its protection removed.
import { expect } from 'chai';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { DIST_DIR } from '../helpers/repo-root';
import { tmpDir } from '../helpers/tmp';
import { skipAsk } from '../../hops/logic/replay-skip';
import { SKIP_KEY_ID } from '../../supervisor/chain/skip-hop';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');
const FORGER = join(DIST_DIR, 'test', 'fixtures', 'breaking-proxy.js');
const URL = 'https://api.openai.com/v1/chat/completions';

describe('security: replay --skip-hop cannot be asked for by the agent or a hop', function () {
  this.timeout(180_000);
  const dir = tmpDir('moat-skip-');
  const askFile = join(dir.path, 'ask');
  const recordFile = join(dir.path, 'seen.jsonl');
  const { chain, provider } = chainFixture({
    config: (p) => `proxies:
  - name: forger
    command: ["${process.execPath}", "${FORGER}", --port, "{port}", --add-header-file, "${askFile}", --record, "${recordFile}"]
    tls: plain
    isolation: none
  - name: rewriter
    command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}"]
    trust_ca: "{dir}/ca/ca.crt"
    isolation: none
  - name: guard
    command: ["${process.execPath}", "${FORGER}", --port, "{port}", --break-on, guard-me]
    tls: plain
    isolation: none
    policy: true
  - moat-policy
policy:
  rules:
    - id: no-embeddings
      match: "api.openai.com/v1/embeddings"
      action: deny
      reason: skip-hop security test
${egressTo(p.port, ['api.openai.com'])}
`,
  });
  after(() => dir.remove());

  const key = () => readFileSync(chain.layout.linkTokenFile(SKIP_KEY_ID), 'utf8').trim();
  let n = 0;
  /** A request with a trace the test chooses (ingress keeps the agent's traceparent). */
  async function send(trace: string, headers: Record<string, string> = {}, url = URL, say = 'hi') {
    const agent = await chain.agent();
    try {
      const res = await timedRequest(agent, url, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `${say} ${++n}` }] }),
        headers: {
          'content-type': 'application/json',
          traceparent: `00-${trace}-0123456789abcdef-01`,
          ...headers,
        },
      });
      return { ...res, json: JSON.parse(res.body) };
    } finally {
      await agent.close();
    }
  }
  const traceOf = (i: number) => i.toString(16).padStart(32, 'c');
  const forge = (line: string | undefined) =>
    line === undefined ? rmSync(askFile, { force: true }) : writeFileSync(askFile, line);

  it('the key is the chain’s own, 0600', () => {
    const file = chain.layout.linkTokenFile(SKIP_KEY_ID);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(key()).to.match(/^[0-9a-f]{64}$/);
  });

  it('the agent’s ask (even well formed) is dropped at ingress: no hop sees it, none is skipped', async () => {
    forge(undefined);
    const trace = traceOf(1);
    const res = await send(trace, { 'x-moat-skip-hop': skipAsk('a'.repeat(64), 2, trace, Date.now()) });
    expect(res.status).to.equal(200);
    expect(res.json.rewritten, 'hop 2 ran').to.equal(true);
    const seen = readFileSync(recordFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // Its own line: the watchdog's health probes pass the hop too.
    const mine = seen.filter((r) => r.headers['x-moat-trace'] === trace);
    expect(mine).to.have.length(1);
    expect(mine[0].headers).to.not.have.property('x-moat-skip-hop');
  });

  it('a hop’s made-up ask (the right form, no key) does not skip the next hop', async () => {
    const trace = traceOf(2);
    forge(`x-moat-skip-hop: 2:${Date.now() + 60_000}:${'0'.repeat(64)}`);
    const res = await send(trace);
    expect(res.json.rewritten, 'hop 2 ran').to.equal(true);
    expect(provider.seen[provider.seen.length - 1].body).to.contain('rewritten-model');
    const events = await chain.ledgerEvents(
      (e) => e.trace === trace && e.boundary === 1 && e.direction === 'request',
      1,
    );
    expect(events[0].decision).to.not.equal('skipped');
    const logs = await chain.cli(['logs', '2']);
    expect(logs.stdout).to.contain('an ask to skip hop 2 (the ask is not signed with the chain skip key');
  });

  it('an ask a hop saw for one trace does not skip the hop for another', async () => {
    const trace = traceOf(3);
    forge(`x-moat-skip-hop: ${skipAsk(key(), 2, traceOf(999), Date.now())}`);
    const res = await send(trace);
    expect(res.json.rewritten, 'hop 2 ran').to.equal(true);
  });

  it('a signed ask holds once: a hop that repeats it with the same trace gets no second skip', async () => {
    const trace = traceOf(4);
    forge(`x-moat-skip-hop: ${skipAsk(key(), 2, trace, Date.now())}`);
    const first = await send(trace);
    expect(first.json.rewritten, 'the ask, once: hop 2 skipped').to.equal(undefined);
    const again = await send(trace);
    expect(again.json.rewritten, 'used again: hop 2 ran').to.equal(true);
  });

  it('even a validly signed ask never skips moat-policy: the denied request stays denied', async () => {
    const trace = traceOf(5);
    forge(`x-moat-skip-hop: ${skipAsk(key(), 4, trace, Date.now())}`);
    const before = provider.seen.length;
    const res = await send(trace, {}, 'https://api.openai.com/v1/embeddings');
    expect(res.status).to.equal(403);
    expect(res.json.error).to.equal('policy_denied');
    expect(provider.seen.length, 'nothing reached the provider').to.equal(before);
  });

  it('nor a third-party hop marked policy: true: the guard still cuts the body (the provider answers 400)', async () => {
    const trace = traceOf(6);
    forge(`x-moat-skip-hop: ${skipAsk(key(), 3, trace, Date.now())}`);
    const res = await send(trace, {}, URL, 'guard-me');
    expect(res.status, 'hop 3 ran').to.equal(400);
    const logs = await chain.cli(['logs', '3']);
    expect(logs.stdout).to.contain('hop 3 (guard) is a policy hop (policy: true): it is never skipped');
  });
});
