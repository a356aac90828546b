// A real agent CLI over WebSocket: OpenAI's Codex CLI (@openai/codex, the version .ci/run installs) runs `codex exec`
// under `moat chain run` with the openai grant, through moat-telemetry and moat-policy. api.openai.com reaches the fake
// provider only through egress.resolve; the fake speaks the Responses API over WebSocket as Codex uses it. Codex must
// get its answer over the WebSocket (the handshake reaches the provider with its Upgrade; no fallback to HTTP, which
// costs about 7 s when a hop drops the Upgrade), the key must arrive only from egress, and the agent's environment
// must hold no more than the placeholder. docs/cli.md ("Codex CLI") has the facts this relies on.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RESPONSES_WS_MARKER, RESPONSES_WS_TEXT } from '../fixtures/fake-websocket';
import { chainFixture } from '../helpers/chain-fixture';
import { egressTo } from '../helpers/cli-chain';
import { chainFiles, filesUnder, holdersOf } from '../helpers/key-holders';
import { tmpDir } from '../helpers/tmp';

const OPENAI = 'api.openai.com';
const REAL_KEY = `sk-proj-REALKEY${randomBytes(24).toString('hex')}`;
const CODEX_VERSION = '0.171.0';

/** `codex --version`, or undefined when it is not installed. */
function codexVersion(): string | undefined {
  try {
    return execFileSync('codex', ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

/**
 * What `moat chain run` is given besides the chain's own variables: Codex's home of the test's own (CODEX_HOME: no
 * user config, no login, nothing written to ~/.codex), the real key as a user's shell would hold it (`run` must replace
 * it with the placeholder), and every other Codex/OpenAI variable of the test's own environment blanked.
 */
function agentEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of Object.keys(process.env)) if (/^(OPENAI_|CODEX_)/.test(name)) env[name] = '';
  return { ...env, HOME: home, CODEX_HOME: home, OPENAI_API_KEY: REAL_KEY };
}

/**
 * `codex exec` as a script runs it: no git repository needed, no session files, and only the model's traffic: plugins
 * (api.github.com, chatgpt.com, a git clone from github.com) and analytics (ab.chatgpt.com) off.
 */
const CODEX_EXEC = [
  'codex',
  'exec',
  '--skip-git-repo-check',
  '--ephemeral',
  '--disable',
  'plugins',
  '-c',
  'analytics.enabled=false',
  '-c',
  'check_for_update_on_startup=false',
];

describe('Codex CLI as it is: `moat chain run -- codex exec` over the Responses WebSocket, with the openai grant', function () {
  this.timeout(180_000);
  // Codex's run: what it printed and how long it took; its home and the placeholder it had.
  let run = { code: 1, stdout: '', stderr: '' };
  let runMs = 0;
  let home: { path: string; remove(): void } | undefined;
  let placeholder = '';
  let version: string | undefined;

  before(function () {
    version = codexVersion();
    if (!version) {
      console.log(
        `      skipped: \`codex\` is not installed: npm install -g @openai/codex@${CODEX_VERSION} (.ci/run does this)`,
      );
      this.skip();
    }
  });

  const { chain, provider } = chainFixture({
    name: 'codex',
    // api.openai.com is the only host egress reaches: the fake provider.
    config: (provider) =>
      ['name: codex', 'proxies: [moat-telemetry, moat-policy]', 'grants: [openai]', egressTo(provider.port, [OPENAI])]
        .join('\n')
        .concat('\n'),
    up: { env: { OPENAI_API_KEY: REAL_KEY } },
  });
  after(() => home?.remove());

  before(async () => {
    home = tmpDir('moat-codex-');
    placeholder = JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).placeholders.OPENAI_API_KEY;
    const t0 = performance.now();
    // Codex reads stdin to its end when it is not a terminal (a pipe here): it gets none.
    const script = 'exec "$@" </dev/null';
    run = await chain.cli(
      ['run', '--', 'sh', '-c', script, 'sh', ...CODEX_EXEC, 'say hi'],
      agentEnv(home.path),
      120_000,
    );
    runMs = performance.now() - t0;
  });

  it('prints the answer that came from the provider, through every hop', () => {
    expect(run.code, `codex ${version} exited ${run.code}:\n${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout).to.contain(RESPONSES_WS_MARKER);
    expect(run.stdout.trim()).to.equal(RESPONSES_WS_TEXT);
  });

  it('spoke the Responses API over the WebSocket: the handshake arrived with its Upgrade, no fallback to HTTP', () => {
    const fallback = provider.seen.filter((s) => s.path.split('?')[0] === '/v1/responses');
    expect(
      fallback.map((s) => `${s.method} ${s.path}`),
      `requests to /v1/responses without the Upgrade (the chain dropped it; Codex fell back to HTTP after ${Math.round(runMs)} ms)`,
    ).to.deep.equal([]);
    const handshakes = provider.ws.handshakes.filter((h) => h.path === '/v1/responses');
    expect(handshakes.length).to.be.at.least(1);
    for (const h of handshakes) {
      expect(h.status).to.equal(101);
      expect(h.host).to.equal('api.openai.com');
      expect(String(h.headers.upgrade).toLowerCase()).to.equal('websocket');
      expect(h.headers['openai-beta']).to.match(/^responses_websockets=/);
    }
    // Codex's turn: its prewarm (generate: false) and the request, each answered up to response.completed.
    const asked = provider.ws.json('client');
    expect(asked.map((m) => m.type)).to.deep.equal(['response.create', 'response.create']);
    expect(asked[0].generate).to.equal(false);
    const answered = provider.ws.json('server').filter((e) => e.type === 'response.completed');
    expect(answered).to.have.length(2);
    expect(asked[1].previous_response_id).to.equal(answered[0].response.id);
  });

  it("its frames and usage reach the events at every boundary: the close carries the socket's tokens", async () => {
    const completed = provider.ws.json('server').filter((e) => e.type === 'response.completed');
    const sent = completed.reduce(
      (t, e) => ({ input: t.input + e.response.usage.input_tokens, output: t.output + e.response.usage.output_tokens }),
      { input: 0, output: 0 },
    );
    expect(sent.output).to.be.greaterThan(0);
    // moat-telemetry (0), moat-policy (1), egress (2): each records the socket's close once Codex has gone.
    const closes = await chain.ledgerEvents((e) => e.direction === 'response' && e.status === 101, 3);
    expect(closes.map((e) => e.boundary).sort()).to.deep.equal([0, 1, 2]);
    for (const e of closes) {
      expect(e.path, `boundary ${e.boundary}`).to.equal('/v1/responses');
      expect(e.websocket!.frames_up, `boundary ${e.boundary}`).to.equal(2);
      expect(e.websocket!.frames_down, `boundary ${e.boundary}`).to.be.greaterThan(4);
      expect(e.provider, `boundary ${e.boundary}`).to.deep.include({
        adapter: 'openai-responses',
        input_tokens: sent.input,
        output_tokens: sent.output,
      });
    }
    // Frames events list both of Codex's response.create messages and the server's events, at every boundary, and each
    // finished response's frames event carries its facts as it passes.
    const frames = await chain.ledgerEvents((e) => e.direction === 'frames', 3);
    for (const boundary of [0, 1, 2]) {
      const here = frames.filter((e) => e.boundary === boundary);
      const listed = here.flatMap((e) => e.frames!);
      expect(
        listed.filter((f) => f.from === 'client' && f.op === 'text'),
        `boundary ${boundary}`,
      ).to.have.length(2);
      const usage = here.filter((e) => e.provider).map((e) => (e.provider as any).output_tokens);
      expect(usage, `boundary ${boundary}`).to.have.length(completed.length);
    }
    const ledger = JSON.stringify(await chain.ledgerEvents(() => true, 0));
    expect(ledger).to.not.contain(REAL_KEY);
    // moat-telemetry counts the socket's tokens as it counts an SSE response's (from the close event).
    const model = String((closes[0].provider as Record<string, unknown>).model);
    const row = (await chain.status()).find((r) => r.role === 'metrics');
    const series = `moat_tokens_total{direction="out",model="${model}"}`;
    let counted: number | undefined;
    for (let i = 0; i < 50 && counted !== sent.output; i++) {
      const text = await (await fetch(row.metrics_url)).text();
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      counted = line === undefined ? undefined : Number(line.slice(series.length + 1));
      if (counted !== sent.output) await new Promise((r) => setTimeout(r, 200));
    }
    expect(counted, series).to.equal(sent.output);
  });

  it('the agent holds the placeholder; the provider receives the real key from egress, never the placeholder', async () => {
    expect(placeholder)
      .to.match(/^sk-[A-Za-z0-9]{48}$/)
      .and.not.equal(REAL_KEY);
    // Codex without a login sends no Authorization of its own: egress adds the key to the handshake.
    expect(provider.ws.handshakes.length).to.be.at.least(1);
    for (const h of provider.ws.handshakes) expect(h.headers.authorization, h.path).to.equal(`Bearer ${REAL_KEY}`);
    const everything = JSON.stringify([provider.seen, provider.ws.handshakes, provider.ws.messages]);
    expect(everything).to.not.contain(placeholder);
    for (const seen of provider.seen) {
      expect(seen.host, seen.path).to.equal('api.openai.com');
      expect(seen.headers.authorization, seen.path).to.equal(`Bearer ${REAL_KEY}`);
    }
    expect(run.stdout + run.stderr).to.not.contain(REAL_KEY);
    const env = await chain.cli(['run', '--', 'printenv', 'OPENAI_API_KEY'], agentEnv(home!.path));
    expect(env.stdout).to.equal(`${placeholder}\n`);
  });

  it('logged in with the placeholder, Codex sends it in the handshake and egress replaces it with the key', async () => {
    const loginHome = tmpDir('moat-codex-login-');
    try {
      const before = provider.ws.handshakes.length;
      const script = 'printenv OPENAI_API_KEY | codex login --with-api-key >/dev/null && exec "$@" </dev/null';
      const env = { ...agentEnv(loginHome.path), HOME: loginHome.path, CODEX_HOME: loginHome.path };
      const res = await chain.cli(['run', '--', 'sh', '-c', script, 'sh', ...CODEX_EXEC, 'say hi'], env, 120_000);
      expect(res.code, `${res.stdout}\n${res.stderr}`).to.equal(0);
      expect(res.stdout.trim()).to.equal(RESPONSES_WS_TEXT);
      // What Codex holds and sends is the placeholder ...
      const auth = JSON.parse(readFileSync(`${loginHome.path}/auth.json`, 'utf8'));
      expect(auth).to.deep.include({ auth_mode: 'apikey', OPENAI_API_KEY: placeholder });
      // ... what the provider receives is the key.
      const handshakes = provider.ws.handshakes.slice(before);
      expect(handshakes.length).to.be.at.least(1);
      for (const h of handshakes) expect(h.headers.authorization).to.equal(`Bearer ${REAL_KEY}`);
      expect(JSON.stringify([provider.seen, provider.ws.handshakes])).to.not.contain(placeholder);
      expect(holdersOf([REAL_KEY], filesUnder(loginHome.path))).to.deep.equal([]);
    } finally {
      loginHome.remove();
    }
  });

  it("no file of the chain or of Codex's home holds the real key", () => {
    expect(holdersOf([REAL_KEY], chainFiles(chain))).to.deep.equal([]);
    expect(holdersOf([REAL_KEY], filesUnder(home!.path))).to.deep.equal([]);
  });
});
