// A real agent CLI as it is: Claude Code (@anthropic-ai/claude-code, the version .ci/run installs) runs `claude -p`
// under `moat chain run` with no change of its own, through moat-telemetry and moat-policy, with the anthropic
// grant. api.anthropic.com reaches the fake provider only through egress.resolve, which speaks the Messages API
// (streamed content blocks, usage). The answer comes back through every hop; the provider receives the real key; the
// agent, its home, the hops, logs, events, tap, the dashboard and the chain's files hold no more than the placeholder.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { MESSAGES_MARKER, MESSAGES_TEXT, tokens } from '../fixtures/fake-messages-api';
import { PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import { chainFiles, filesUnder, holdersOf } from '../helpers/key-holders';
import { tmpDir } from '../helpers/tmp';
import { namespacesUnavailable } from '../helpers/namespaces';
import type { MoatEvent } from '../../schemas/generated/event';

const REAL_KEY = `sk-ant-api03-REALKEY${randomBytes(24).toString('hex')}`;

/** `claude --version`, or undefined when it is not installed. */
function claudeVersion(): string | undefined {
  try {
    return execFileSync('claude', ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

/**
 * What `moat chain run` is given besides the chain's own variables: a home of the test's own (no user settings, no
 * login), Claude Code's switches for "no telemetry, no update check", the real key as a user's shell would hold it
 * (`run` must replace it with the placeholder), and every other Claude/Anthropic variable of the test's own
 * environment blanked (a base URL or token there would take the agent somewhere else).
 */
function agentEnv(home: string, quiet = true): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of Object.keys(process.env)) if (/^(ANTHROPIC_|CLAUDE)/.test(name)) env[name] = '';
  return {
    ...env,
    HOME: home,
    ...(quiet ? { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' } : {}),
    DISABLE_AUTOUPDATER: '1',
    ANTHROPIC_API_KEY: REAL_KEY,
  };
}

function dashboardGet(port: number, token: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('Claude Code as it is: `moat chain run -- claude -p` through the chain, with the anthropic grant', function () {
  this.timeout(180_000);
  // Claude Code's home, made once the suite runs (a describe whose hooks never run leaves no directory behind).
  let home: { path: string; remove(): void } | undefined;
  let version: string | undefined;
  let placeholder = '';
  let run = { code: 1, stdout: '', stderr: '' };

  before(function () {
    version = claudeVersion();
    if (!version) {
      console.log(
        '      skipped: `claude` is not installed: npm install -g @anthropic-ai/claude-code@2.1.332 (.ci/run does this)',
      );
      this.skip();
    }
  });

  const { chain, provider } = chainFixture({
    name: 'claude',
    provider: { messagesApi: true },
    config: (provider) => `name: claude
proxies: [moat-telemetry, moat-policy]
grants: [anthropic]
egress:
  allow: [api.anthropic.com]
  resolve:
    "api.anthropic.com:443": "127.0.0.1:${provider.port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`,
    up: { env: { ANTHROPIC_API_KEY: REAL_KEY } },
  });

  after(() => home?.remove());

  before(async () => {
    home = tmpDir('moat-claude-');
    placeholder = JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).placeholders.ANTHROPIC_API_KEY;
    run = await chain.cli(['run', '--', 'claude', '-p', 'say hi'], agentEnv(home.path), 120_000);
  });

  /** The ledger's events once every request the provider saw is there at the three boundaries, both ways. */
  async function allEvents(): Promise<MoatEvent[]> {
    let events: MoatEvent[] = [];
    for (let i = 0; i < 100 && events.length < provider.seen.length * 6; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      events = await chain.events();
    }
    return events;
  }

  /** The events of Claude Code's first POST /v1/messages (events carry the path without its query). */
  async function messageEvents(): Promise<MoatEvent[]> {
    const messages = (await allEvents()).filter((e) => e.path === '/v1/messages' && e.method === 'POST');
    return messages.filter((e) => e.trace === messages[0]?.trace);
  }

  it('prints the answer that came from the provider, through every hop', () => {
    expect(run.code, `claude ${version} exited ${run.code}:\n${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout).to.contain(MESSAGES_MARKER);
    expect(run.stdout.trim()).to.equal(MESSAGES_TEXT);
  });

  it('the agent holds the placeholder; the provider receives the real key on every request, and a streamed POST /v1/messages', async () => {
    expect(placeholder)
      .to.match(/^sk-ant-api03-[A-Za-z0-9_-]{93}AA$/)
      .and.not.equal(REAL_KEY);
    expect(provider.seen.length).to.be.at.least(1);
    for (const seen of provider.seen) {
      expect(seen.host, seen.path).to.equal('api.anthropic.com');
      expect(seen.headers['x-api-key'], seen.path).to.equal(REAL_KEY);
      expect(seen.headers, seen.path).to.not.have.property('authorization');
    }
    // The agent had the placeholder, though the shell it was started from had the real key.
    expect(run.stdout).to.not.contain(REAL_KEY);
    const env = await chain.cli(['run', '--', 'printenv', 'ANTHROPIC_API_KEY'], agentEnv(home!.path));
    expect(env.stdout).to.equal(`${placeholder}\n`);
    const messages = provider.seen.filter((s) => s.method === 'POST' && /^\/v1\/messages(\?|$)/.test(s.path));
    expect(messages.length).to.be.at.least(1);
    expect(JSON.parse(messages[0].body)).to.deep.include({ stream: true });
  });

  it('events show the request at every boundary (0, 1, 2) and its usage as the provider reported it', async () => {
    const ofTrace = await messageEvents();
    const expected = [0, 1, 2].flatMap((b) => [`${b}:request`, `${b}:response`]);
    expect(ofTrace.map((e) => `${e.boundary}:${e.direction}`).sort()).to.deep.equal(expected);
    const seen = provider.seen.find((s) => s.method === 'POST' && s.path.startsWith('/v1/messages'))!;
    for (const e of ofTrace.filter((e) => e.direction === 'response')) {
      expect(e.status, `boundary ${e.boundary}`).to.equal(200);
      expect(e.provider, `boundary ${e.boundary}`).to.deep.include({
        adapter: 'anthropic-messages',
        input_tokens: tokens(seen.body),
        output_tokens: tokens(MESSAGES_TEXT),
        stream: true,
      });
    }
    // Every request Claude Code made went to api.anthropic.com, and was let through.
    const all = await allEvents();
    expect(all).to.have.length(provider.seen.length * 6);
    expect(new Set(all.map((e) => e.host))).to.deep.equal(new Set(['api.anthropic.com']));
  });

  it('under `run --transparent`, its non-essential traffic on: every request to api.anthropic.com, through the chain', async function () {
    const why = namespacesUnavailable();
    if (why) {
      console.log(`      skipped: network namespaces are not available here: ${why}`);
      return this.skip();
    }
    const before = provider.seen.length;
    const res = await chain.cli(
      ['run', '--transparent', '--', 'claude', '-p', 'say hi'],
      agentEnv(home!.path, false),
      120_000,
    );
    expect(res.code, `${res.stdout}\n${res.stderr}`).to.equal(0);
    expect(res.stdout.trim()).to.equal(MESSAGES_TEXT);
    const seen = provider.seen.slice(before);
    expect(seen.filter((s) => s.method === 'POST' && s.path.startsWith('/v1/messages'))).to.have.length(1);
    for (const s of seen) expect(s.headers['x-api-key'], s.path).to.equal(REAL_KEY);
    // Every connection it made reached the provider through all three boundaries: none was refused, none went round.
    const all = await allEvents();
    expect(all).to.have.length(provider.seen.length * 6);
    expect(new Set(all.map((e) => e.host))).to.deep.equal(new Set(['api.anthropic.com']));
    expect(all.filter((e) => e.direction === 'response' && e.status! >= 500)).to.deep.equal([]);
  });

  it('no output, log, event, tap record or dashboard answer holds the real key', async () => {
    const outputs: Record<string, string> = { run: run.stdout + run.stderr };
    outputs.events = JSON.stringify(await allEvents());
    const count = String(provider.seen.length);
    for (const hop of ['1', '2']) {
      const tap = await chain.cli(['tap', hop, '--json', '--history', count, '--count', count]);
      expect(tap.code, tap.stderr).to.equal(0);
      expect(tap.stdout.trim().split('\n')).to.have.length(provider.seen.length);
      outputs[`tap ${hop}`] = tap.stdout + tap.stderr;
    }
    for (const hop of ['1', '2', '3']) outputs[`logs ${hop}`] = (await chain.cli(['logs', hop])).stdout;

    const dashboard = (await chain.status()).find((r) => r.name === 'dashboard');
    const token = readFileSync(chain.layout.dashboardTokenFile, 'utf8').trim();
    const trace = (await messageEvents())[0].trace;
    for (const path of ['/_/api/requests', '/_/api/events?limit=1000', `/_/api/trace/${trace}`]) {
      const res = await dashboardGet(dashboard.port, token, path);
      expect(res.status, path).to.equal(200);
      outputs[path] = res.body;
    }
    expect(JSON.parse(outputs['/_/api/requests']).requests.map((r: any) => r.path)).to.include('/v1/messages');
    for (const [name, text] of Object.entries(outputs)) {
      expect(text, `the real key in ${name}`).to.not.contain(REAL_KEY);
    }
  });

  it("no file of the chain (ledger, logs, specs, plan, pm2 home) or of the agent's home holds the real key", () => {
    const files = chainFiles(chain);
    // The ledger, the plan and egress's log are among them (a search of nothing would find nothing).
    for (const file of [chain.layout.ledgerFile, chain.layout.planFile, `${chain.layout.stateDir}/logs/3-egress.log`])
      expect(files).to.include(file);
    expect(holdersOf([REAL_KEY], files)).to.deep.equal([]);
    // Claude Code wrote its config and the session's transcript there: with the placeholder at most.
    const agentFiles = filesUnder(home!.path);
    expect(
      agentFiles.some((f) => f.endsWith('.jsonl')),
      'a transcript',
    ).to.equal(true);
    expect(holdersOf([REAL_KEY], agentFiles)).to.deep.equal([]);
  });

  it("the provider's stream reaches a client through the chain as the Messages API's events, in order", async () => {
    const res = await chain.postMessage('hi', { 'anthropic-version': '2023-06-01' }, { stream: true });
    expect(res.status, res.body).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/event-stream; charset=utf-8');
    const events = res.body
      .trim()
      .split('\n\n')
      .map((block) => {
        const [event, data] = block.split('\n');
        return { event: event.replace(/^event: /, ''), data: JSON.parse(data.replace(/^data: /, '')) };
      });
    expect(events.map((e) => e.event)).to.deep.equal([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const e of events) expect(e.data.type).to.equal(e.event);
    const text = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.text);
    expect(text.join('')).to.equal(MESSAGES_TEXT);
    expect(events[6].data).to.deep.equal({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: tokens(MESSAGES_TEXT) },
    });
  });
});
