// The dashboard end to end: a real chain (telemetry, the rewriting fixture, policy with a deny rule)
// with a fake provider, the dashboard process it starts, its JSON API and live stream over HTTP,
// and the page in a real headless Chromium during live traffic. Screenshots go to test-output/dashboard/.
import { expect } from 'chai';
import http from 'node:http';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ProxyAgent } from 'undici';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { REPO_ROOT, DIST_DIR } from '../helpers/repo-root';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');
const SHOTS = join(REPO_ROOT, 'test-output', 'dashboard');
const CHROMIUM = '/usr/bin/chromium';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain HTTP GET to the dashboard, with whatever headers the test wants (or none). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls from here (the page's CSP rightly refuses the string evaluation waitForFunction would use). */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('dashboard: a live chain in the browser, and its API', function () {
  this.timeout(180_000);
  let upJson: any;
  let url = '';
  let base = '';
  let token = '';
  let agent: ProxyAgent;
  let browser: Browser | undefined;
  const auth = () => ({ authorization: `Bearer ${token}` });

  // Background traffic while the page is open: a GET every 150 ms until the test says stop.
  let traffic: Promise<void> | undefined;
  let trafficOn = false;
  const startTraffic = () => {
    trafficOn = true;
    traffic = (async () => {
      while (trafficOn) {
        await timedRequest(agent, 'https://api.anthropic.com/v1/models').catch(() => undefined);
        await sleep(150);
      }
    })();
  };
  const stopTraffic = async () => {
    trafficOn = false;
    await traffic;
  };

  const sendMessage = () =>
    timedRequest(agent, 'https://api.anthropic.com/v1/messages', {
      method: 'POST',
      body: JSON.stringify({
        model: 'claude-x',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hello <img src=x onerror=alert(1)>' }],
      }),
      headers: { 'content-type': 'application/json' },
    });

  // An MCP tools/call moat-policy denies (rule no-deletes): answered 200 with a JSON-RPC error object.
  const callDelete = () =>
    timedRequest(agent, 'https://api.anthropic.com/mcp', {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'delete_file' } }),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    });

  before(() => mkdirSync(SHOTS, { recursive: true }));
  const { chain, upResult } = chainFixture({
    name: 'dash',
    config: (provider) => `name: dash
proxies:
  - moat-telemetry
  - name: rewriter
    command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}"]
    trust_ca: "{dir}/ca/ca.crt"
  - moat-policy
policy:
  rules:
    - id: no-deletes
      match: "api.anthropic.com/mcp*"
      tool: "delete_*"
      action: deny
      reason: agents may not delete files
    - id: no-forbidden
      match: "api.anthropic.com/v1/forbidden*"
      action: deny
      reason: forbidden paths stay closed
capture:
  bodies: full
${egressTo(provider.port)}
`,
    up: { args: ['--json'] },
    beforeCleanup: async () => {
      await stopTraffic();
      await browser?.close().catch(() => undefined);
      await agent?.close().catch(() => undefined);
    },
  });

  before(async () => {
    const lines = upResult()
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    upJson = lines.find((l) => l.up)?.up;
    url = upJson.dashboard;
    base = new URL(url).origin;
    token = new URL(url).searchParams.get('token')!;
    agent = await chain.agent();
  });

  it('`up --json` and `status` give the address with a token of its own, kept 0600', async () => {
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const file = chain.layout.dashboardTokenFile;
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(token).to.not.equal((await chain.cli(['env', '--json'])).stdout.match(/moat:([0-9a-f]{64})@/)?.[1]);
    const rows = await chain.status();
    const row = rows.find((r) => r.role === 'dashboard');
    expect(row).to.deep.include({ hop: -1, name: 'dashboard', state: 'online', url });
    const text = await chain.cli(['status']);
    expect(text.stdout).to.contain(`dashboard: ${url}`);
  });

  it('answers 401 to every request without the right token, 403 to a foreign Host, 405 to a POST', async () => {
    for (const path of [
      '/',
      '/_/api/chain',
      '/_/api/events',
      '/_/api/stats',
      '/_/api/trace/abc',
      '/_/api/verify',
      '/_/api/live',
      '/trace/0123456789abcdef0123456789abcdef',
      '/trace/%3Cscript%3E',
      '/nothing',
    ]) {
      expect((await get(base + path)).status, path).to.equal(401);
      expect((await get(`${base}${path}?token=${'0'.repeat(64)}`)).status, path).to.equal(401);
      expect((await get(base + path, { authorization: 'Bearer nope' })).status, path).to.equal(401);
    }
    const denied = await get(base + '/');
    expect(denied.headers['www-authenticate']).to.contain('Bearer');
    expect(denied.body).to.not.contain('<script');
    expect((await get(base + '/_/api/chain', { ...auth(), host: 'evil.example:80' })).status).to.equal(403);
    expect((await get(base + '/_/api/chain', auth(), 'POST')).status).to.equal(405);
    const page = await get(url);
    expect(page.status).to.equal(200);
    expect(page.headers['content-security-policy']).to.match(/default-src 'none'; script-src 'nonce-[^']+'/);
    expect(String(page.headers['set-cookie'])).to.match(
      /^moat_dashboard_\d+=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict/,
    );
    // Nothing on the page comes from anywhere else.
    expect(page.body).to.not.match(/(src|href)="https?:/);
  });

  it('the JSON API: events, requests, stats, trace and verify of a request through the rewriting hop', async () => {
    const res = await sendMessage();
    expect(res.status).to.equal(200);
    let trace = '';
    for (let i = 0; i < 100 && !trace; i++) {
      await sleep(50);
      const { requests } = JSON.parse((await get(`${base}/_/api/requests?hop=2`, auth())).body);
      trace = requests.find((r: any) => r.path === '/v1/messages' && r.done)?.trace ?? '';
    }
    expect(trace).to.match(/^[0-9a-f]{32}$/);

    let events: any[] = [];
    for (let i = 0; i < 100 && events.length < 8; i++) {
      await sleep(50);
      events = JSON.parse((await get(`${base}/_/api/events?limit=1000`, auth())).body).events.filter(
        (e: any) => e.trace === trace,
      );
    }
    expect(events.map((e) => `${e.boundary}:${e.direction}`).sort()).to.deep.equal([
      '0:request',
      '0:response',
      '1:request',
      '1:response',
      '2:request',
      '2:response',
      '3:request',
      '3:response',
    ]);
    const hop2 = JSON.parse((await get(`${base}/_/api/events?hop=2&host=api.anthropic.com`, auth())).body).events;
    expect(hop2.length).to.be.greaterThan(0);
    expect(hop2.every((e: any) => e.hop === 2 && e.host === 'api.anthropic.com')).to.equal(true);
    expect(JSON.parse((await get(`${base}/_/api/events?limit=1`, auth())).body).events).to.have.length(1);

    const view = JSON.parse((await get(`${base}/_/api/trace/${trace}`, auth())).body);
    expect(view.complete).to.equal(true);
    expect(view.boundaries.map((b: any) => b.boundary)).to.deep.equal([0, 1, 2, 3]);
    const rewriter = view.hops.find((h: any) => h.hop === 2);
    expect(rewriter.name).to.equal('rewriter');
    expect(rewriter.request_headers).to.deep.include({ name: 'x-rewritten-by', change: 'added', after: 'fixture' });
    expect(rewriter.response_headers).to.deep.include({ name: 'x-fixture-response', change: 'added', after: '1' });
    expect(rewriter.record.requestBody).to.deep.equal(['model: "claude-x" -> "rewritten-model"']);
    expect(rewriter.record.responseBody).to.deep.equal(['+rewritten: true']);

    const stats = JSON.parse((await get(`${base}/_/api/stats`, auth())).body);
    expect(stats.hops.map((h: any) => [h.hop, h.name])).to.deep.equal([
      [1, 'moat-telemetry'],
      [2, 'rewriter'],
      [3, 'moat-policy'],
      [4, 'egress'],
    ]);
    for (const h of stats.hops) {
      expect(h.requests, h.name).to.be.at.least(1);
      expect(h.p50_ms, h.name).to.be.a('number').and.at.least(0);
      expect(h.error_rate, h.name).to.equal(0);
    }
    const chainView = JSON.parse((await get(`${base}/_/api/chain`, auth())).body);
    expect(chainView.pm2).to.equal(true);
    expect(chainView.processes.map((p: any) => `${p.hop}:${p.name}:${p.role}:${p.state}`)).to.include.members([
      '2:rewriter:link:online',
      '2:rewriter:third-party:online',
      '-1:dashboard:dashboard:online',
    ]);
    expect(chainView.processes.filter((p: any) => !(p.pid > 0 && p.restarts === 0))).to.deep.equal([]);

    let verify: any = {};
    for (let i = 0; i < 60 && !(verify.ok && verify.rows >= 8); i++) {
      await sleep(100);
      verify = JSON.parse((await get(`${base}/_/api/verify`, auth())).body);
    }
    expect(verify).to.deep.include({ ok: true });
    expect(verify.text).to.match(/^ledger\.db: ok, \d+ rows/);
  });

  it('/_/api/live streams each new request row and event as Server-Sent Events, filtered', async () => {
    const received: string[] = [];
    const stream = http.get(`${base}/_/api/live?hop=3`, { headers: auth() });
    const res = await new Promise<http.IncomingMessage>((resolve) => stream.on('response', resolve));
    expect(res.headers['content-type']).to.contain('text/event-stream');
    res.on('data', (d) => received.push(String(d)));
    try {
      for (let i = 0; i < 50 && !received.join('').includes('event: hello'); i++) await sleep(20);
      const denied = await timedRequest(agent, 'https://api.anthropic.com/v1/forbidden/thing');
      expect(denied.status).to.equal(403);
      for (let i = 0; i < 100 && !received.join('').includes('"decision":"deny"'); i++) await sleep(50);
      const messages = received
        .join('')
        .split('\n\n')
        .filter((m) => m.startsWith('event: '));
      const rows = messages
        .filter((m) => m.startsWith('event: request'))
        .map((m) => JSON.parse(m.split('\ndata: ')[1]));
      const events = messages
        .filter((m) => m.startsWith('event: event'))
        .map((m) => JSON.parse(m.split('\ndata: ')[1]));
      expect(
        rows.some((r) => r.path === '/v1/forbidden/thing' && r.decision === 'deny' && r.rule === 'no-forbidden'),
      ).to.equal(true);
      expect(events.length).to.be.greaterThan(0);
      expect(events.every((e) => e.hop === 3)).to.equal(true);
    } finally {
      stream.destroy();
    }
  });

  describe('the page in Chromium', () => {
    let page: Page;
    const problems: string[] = [];

    before(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
      });
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      page = await context.newPage();
      // A script error or a CSP violation (something the page tried to load or run) fails the test.
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
    });

    it('loads with the token, drops it from the address, and shows the chain with its processes', async () => {
      startTraffic();
      const res = await page.goto(url);
      expect(res!.status()).to.equal(200);
      await page.locator('#live', { hasText: 'live' }).waitFor();
      expect(page.url()).to.equal(`${base}/`);
      await page.locator('#chain tbody tr', { hasText: 'rewriter' }).first().waitFor();
      expect(await page.locator('#title').textContent()).to.equal('moat chain dash');
      const rewriterRow = await page.locator('#chain tbody tr', { hasText: 'third-party' }).textContent();
      expect(rewriterRow).to.contain('rewriter').and.contain('online').and.contain('forward');
    });

    it('request rows appear live while traffic flows', async () => {
      const rows = page.locator('#requests tbody tr');
      const before = await rows.count();
      await until(async () => (await rows.count()) > before + 2, 15_000);
      // A request sent now, after the page loaded, can only have come through the live stream.
      expect((await sendMessage()).status).to.equal(200);
      expect((await timedRequest(agent, 'https://api.anthropic.com/v1/forbidden/again')).status).to.equal(403);
      await page.locator('#requests tbody tr', { hasText: '/v1/forbidden/again' }).waitFor({ timeout: 15_000 });
      await page.locator('#requests tbody tr', { hasText: '/v1/messages' }).first().waitFor({ timeout: 15_000 });
      // The hop table fills in from the statistics.
      await until(
        async () => (await page.locator('#chain tbody td:nth-child(7)').allTextContents()).some((t) => /\d/.test(t)),
        10_000,
      );
      await page.screenshot({ path: join(SHOTS, 'live.png'), fullPage: true });
    });

    it('filters the list by decision and host', async () => {
      await page.selectOption('#f-decision', 'deny');
      await page.locator('#live', { hasText: 'live' }).waitFor();
      await until(async () => {
        const paths = await page.locator('#requests tbody tr td.path').allTextContents();
        return paths.length > 0 && paths.every((p) => p.startsWith('/v1/forbidden'));
      }, 10_000);
      await page.selectOption('#f-decision', '');
      await page.selectOption('#f-host', 'api.anthropic.com');
      await page.locator('#requests tbody tr', { hasText: '/v1/models' }).first().waitFor();
      await page.selectOption('#f-host', '');
    });

    it("opens a trace: every boundary, and the rewriting hop's header and model changes", async () => {
      await page.locator('#requests tbody tr', { hasText: '/v1/messages' }).first().click();
      const card = page.locator('#trace-hops .hopcard[data-hop="2"]');
      await card.getByText('+ x-rewritten-by: fixture').waitFor({ timeout: 10_000 });
      // Bodies come from the ledger: the page refreshes the trace until the writer has stored every event.
      await card.getByText('body model: "claude-x" -> "rewritten-model"').waitFor({ timeout: 15_000 });
      const text = await card.textContent();
      expect(text).to.contain('hop 2 · rewriter');
      expect(text).to.contain('body model: "claude-x" -> "rewritten-model"');
      expect(text).to.contain('+ x-fixture-response: 1');
      expect(text).to.contain('body +rewritten: true');
      expect(text).to.match(/latency added [\d.]+ ms/);
      await page.locator('#trace-boundaries tbody tr[data-boundary="3"]').waitFor();
      expect(await page.locator('#trace-boundaries tbody tr').count()).to.equal(4);
      // The body the agent sent is shown as text: its markup stays characters on the page.
      const sent = page.locator('#trace-boundaries tbody tr[data-boundary="0"] td:nth-child(3)');
      await sent.locator('summary').click();
      expect(await sent.locator('pre').last().textContent()).to.contain('<img src=x onerror=alert(1)>');
      expect(await page.locator('#trace img').count()).to.equal(0);
      await page.locator('#trace').screenshot({ path: join(SHOTS, 'trace.png') });
    });

    it('an MCP denial reads as text in its row, its trace and the denials (never [object Object])', async () => {
      const denied = await callDelete();
      expect(denied.status).to.equal(200);
      expect(JSON.parse(denied.body).error.message).to.match(/^moat denied the MCP tool call delete_file on /);
      const row = page.locator('#requests tbody tr', { hasText: '/mcp' }).first();
      await row.waitFor({ timeout: 15_000 });
      await until(async () => /moat-policy \(policy_denied\)/.test((await row.textContent()) ?? ''), 10_000);
      expect(await row.textContent()).to.contain('3 moat-policy (policy_denied)');
      const listed = page.locator('#denials tbody tr', { hasText: '/mcp' }).first();
      await listed.waitFor({ timeout: 10_000 });
      expect(await listed.textContent())
        .to.contain('no-deletes')
        .and.contain('agents may not delete files');
      await row.click();
      const card = page.locator('#trace-hops .hopcard[data-hop="3"]');
      await card.getByText('agents may not delete files').waitFor({ timeout: 10_000 });
      expect(await card.textContent())
        .to.contain('rule no-deletes')
        .and.contain('policy_denied');
      const shown = (await page.locator('main').textContent()) ?? ''; // all of it, folded details included
      const at = shown.indexOf('[object Object]');
      expect(at, `[object Object] in: ${shown.slice(Math.max(0, at - 300), at + 100)}`).to.equal(-1);
      await page.locator('#trace').screenshot({ path: join(SHOTS, 'mcp-denial.png') });
    });

    it('every request row links to its own address, /trace/<id>, which opens that trace by itself', async () => {
      const row = page.locator('#requests tbody tr', { hasText: '/v1/messages' }).first();
      const trace = (await row.getAttribute('data-trace'))!;
      expect(trace).to.match(/^[0-9a-f]{32}$/);
      expect(await row.locator('a').getAttribute('href')).to.equal(`/trace/${trace}`);
      // Opening a row puts its address in the address bar.
      await row.click();
      await until(async () => page.url() === `${base}/trace/${trace}`, 5_000);
      // A new tab at that address (the token is in the cookie) opens the trace without a click.
      const other = await page.context().newPage();
      try {
        const res = await other.goto(`${base}/trace/${trace}`);
        expect(res!.status()).to.equal(200);
        await other.locator('#trace-id', { hasText: trace }).waitFor({ timeout: 10_000 });
        expect(await other.locator('#trace').isVisible()).to.equal(true);
        await other.locator('#trace-boundaries tbody tr[data-boundary="3"]').waitFor({ timeout: 10_000 });
        expect(await other.locator('#trace-hops .hopcard[data-hop="2"]').textContent()).to.contain('hop 2 · rewriter');
        await other.screenshot({ path: join(SHOTS, 'trace-address.png'), fullPage: true });
      } finally {
        await other.close();
      }
      // A crafted id is refused by the server, and nothing of it becomes markup.
      const crafted = await page.context().newPage();
      try {
        const res = await crafted.goto(`${base}/trace/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E`);
        expect(res!.status()).to.equal(400);
        expect(await crafted.locator('img').count()).to.equal(0);
      } finally {
        await crafted.close();
      }
    });

    it('shows the denial with its rule and reason, and the ledger verified', async () => {
      const denial = page.locator('#denials tbody tr', { hasText: '/v1/forbidden' }).first();
      await denial.waitFor({ timeout: 10_000 });
      expect(await denial.textContent())
        .to.contain('no-forbidden')
        .and.contain('forbidden paths stay closed')
        .and.contain('3 moat-policy');
      await page.locator('#verify-badge', { hasText: 'ledger: ok' }).waitFor({ timeout: 15_000 });
      expect(await page.locator('#verify-text').textContent()).to.match(/ledger\.db: ok, \d+ rows/);
      await stopTraffic();
      await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    });

    it('a browser without the token gets 401 and no page', async () => {
      const stranger = await browser!.newContext();
      try {
        const other = await stranger.newPage();
        const res = await other.goto(`${base}/`);
        expect(res!.status()).to.equal(401);
        expect(await other.locator('#requests').count()).to.equal(0);
        expect((await other.goto(`${base}/_/api/events`))!.status()).to.equal(401);
      } finally {
        await stranger.close();
      }
    });

    afterEach(async function () {
      if (this.currentTest?.state === 'failed')
        await page
          .screenshot({
            path: join(SHOTS, `failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}.png`),
            fullPage: true,
          })
          .catch(() => undefined);
    });

    it('the page ran without script errors, CSP violations or dialogs', () => {
      expect(problems).to.deep.equal([]);
    });
  });
});
