// Secrets in every spelling a server reads (issue 16, points 3 and 4), through a running chain with moat-policy's
// DLP on and full body capture: a JSON \u escape, base64, a form field, a UTF-16 body, a query parameter, a custom
// header, a credential-named header, a key-shaped path segment and a Slack webhook's path. Where the policy applies,
// each is blocked and nothing reaches the fake provider; where a rule turns DLP off (dlp: false) the request goes
// through, and the secret, in any of its spellings, appears nowhere under MOAT_HOME (ledger file, pm2 logs, spool),
// in `moat chain tap` output or in the dashboard's API.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { request } from 'undici';
import type { ProxyAgent } from 'undici';
import { PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import { fake } from '../helpers/fake-secrets';

interface Spelling {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** What must appear nowhere: the secret's distinctive part and the spelling that carried it. */
  needles: (string | Buffer)[];
}

const pct = (s: string) =>
  [...s].map((c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join('');
const b64 = (s: string) => Buffer.from(s).toString('base64');

function spellings(): Spelling[] {
  const k = () => fake.awsAccessKey();
  const [json, base, form, utf16, query, header] = [k(), k(), k(), k(), k(), k()];
  const tokenHeader = fake.anthropicKey();
  const segment = fake.anthropicKey();
  const hook = new URL(fake.slackWebhook()).pathname;
  const [pathKey, headerB64, twice, mime] = [k(), k(), k(), k()];
  const pathB64 = fake.anthropicKey();
  const slackName = fake.slackBotToken();
  const fullHook = fake.slackWebhook();
  // The key is bytes 61-80 of the part: base64 characters 84-104 (on the second 76-character line) are its alone.
  const mimeB64 = b64('x'.repeat(60) + ' ' + mime + ' ' + 'y'.repeat(90));
  const utf16Body = Buffer.from(`\ufeff{"note":"deploy with ${utf16}"}`, 'utf16le');
  return [
    {
      name: 'JSON \\u escape',
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json' },
      body: `{"content":"\\u0041${json.slice(1)}"}`,
      needles: [json.slice(4), `\\u0041${json.slice(1)}`],
    },
    {
      name: 'base64 in JSON',
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: b64(`my key ${base} ok`) }),
      needles: [base.slice(4), b64(`my key ${base} ok`).slice(8, 36)],
    },
    {
      name: 'form field',
      method: 'POST',
      path: '/v1/forms',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `a=1&k=${pct(form)}`,
      needles: [form.slice(4), pct(form).slice(12)],
    },
    {
      name: 'UTF-16 body',
      method: 'POST',
      path: '/v1/notes',
      headers: { 'content-type': 'text/plain; charset=utf-16' },
      body: utf16Body,
      needles: [utf16.slice(4), Buffer.from(utf16.slice(4), 'utf16le'), [...utf16.slice(4)].join('\\u0000')],
    },
    {
      name: 'query parameter',
      method: 'GET',
      path: `/v1/items?key=%41%4B${query.slice(2)}`,
      needles: [query.slice(4)],
    },
    {
      name: 'custom header',
      method: 'GET',
      path: '/v1/items',
      headers: { 'x-data': `id ${header}` },
      needles: [header.slice(4)],
    },
    {
      name: 'credential-named header',
      method: 'GET',
      path: '/v1/items',
      headers: { 'x-auth-token': tokenHeader },
      needles: [tokenHeader.slice(20)],
    },
    { name: 'key-shaped path segment', method: 'GET', path: `/v1/${segment}/x`, needles: [segment.slice(20)] },
    {
      name: 'Slack webhook path',
      method: 'POST',
      path: hook,
      headers: { 'content-type': 'application/json' },
      body: '{"text":"hi"}',
      needles: [hook.split('/').pop()!],
    },
    {
      name: 'percent-encoded path segment',
      method: 'GET',
      path: `/v1/${pct(pathKey)}/x`,
      needles: [pathKey.slice(4), pct(pathKey).slice(12)],
    },
    {
      name: 'base64url path segment',
      method: 'GET',
      path: `/v1/${Buffer.from(pathB64).toString('base64url')}`,
      needles: [pathB64.slice(20), Buffer.from(pathB64).toString('base64url').slice(20, 60)],
    },
    {
      name: 'base64 custom header',
      method: 'GET',
      path: '/v1/items',
      headers: { 'x-trace-data': b64(`k=${headerB64}`) },
      needles: [headerB64.slice(4), b64(`k=${headerB64}`).slice(4, 24)],
    },
    {
      name: 'key as a header name',
      method: 'GET',
      path: '/v1/items',
      headers: { [slackName]: '1' },
      needles: [slackName.slice(6).toLowerCase()],
    },
    {
      name: 'webhook URL with JSON \\/ escapes',
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: fullHook }).replace(/\//g, '\\/'),
      needles: [fullHook.split('/').pop()!],
    },
    {
      name: 'JSON in JSON, escaped twice',
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inner: `{"c":"\\u0041${twice.slice(1)}"}` }),
      needles: [twice.slice(4)],
    },
    {
      name: 'MIME base64 part of a multipart form',
      method: 'POST',
      path: '/v1/files',
      headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
      body:
        `--XyZ\r\nContent-Disposition: form-data; name="f"\r\nContent-Transfer-Encoding: ` +
        `base64\r\n\r\n${mimeB64.replace(/(.{76})/g, '$1\r\n')}\r\n--XyZ--\r\n`,
      needles: [mime.slice(4), mimeB64.slice(84, 104)],
    },
  ];
}

/** Every file under dir, recursively (the ledger, pm2 logs, spools, state). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(path));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

const found = (haystack: Buffer, needle: string | Buffer) =>
  haystack.includes(typeof needle === 'string' ? Buffer.from(needle, 'utf8') : needle);

function dashboardGet(url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      })
      .on('error', reject);
  });
}

describe('security: a secret is blocked and never recorded, however it is spelled', function () {
  this.timeout(240_000);
  let agent: ProxyAgent;
  const blocked = spellings();
  const exempt = spellings();
  const reported = spellings();
  // Sent to the fake provider's /echo, which answers with the request it read (path, headers, body) as JSON: the
  // secrets come back in the response body, JSON-escaped on top of their own spelling.
  // (Path spellings lose their path there; their query stays.)
  const echoed = spellings().map((s) => ({
    ...s,
    path: `/echo${s.path.includes('?') ? s.path.slice(s.path.indexOf('?')) : ''}`,
  }));
  const hosts = ['api.example.com', 'open.example.com', 'hooks.slack.com'];
  const config = (mode: 'enforce' | 'report') => `name: secrets
proxies: [moat-telemetry, moat-policy]
policy:
  mode: ${mode}
  dlp:
    enabled: true
  rules:
    - match: "open.example.com/*"
      action: allow
      dlp: false
capture:
  bodies: full
tls:
  intercept: [${hosts.join(', ')}]
egress:
  allow: [${hosts.join(', ')}]
  resolve:
${hosts.map((h) => `    "${h}:443": "127.0.0.1:${provider.port}"`).join('\n')}
  extra_ca: ["${PROVIDER_CA_FILE}"]
`;

  const { chain, provider } = chainFixture({
    name: 'secrets',
    config: () => config('enforce'),
    beforeCleanup: () => agent?.close().catch(() => undefined),
  });

  before(async () => {
    agent = await chain.agent();
  });

  let sent = 0;
  const send = async (host: string, s: Spelling) => {
    sent++;
    const res = await request(`https://${host}${s.path}`, {
      dispatcher: agent,
      method: s.method as 'GET',
      headers: s.headers,
      body: s.body,
    });
    return { status: res.statusCode, body: await res.body.text() };
  };

  it('moat-policy DLP blocks every spelling: nothing reaches the provider', async () => {
    const before = provider.seen.length;
    for (const s of blocked) {
      for (const host of s.name === 'Slack webhook path'
        ? ['api.example.com', 'hooks.slack.com']
        : ['api.example.com']) {
        const reply = await send(host, s);
        expect(reply.status, `${s.name}: ${reply.body}`).to.equal(403);
        expect(JSON.parse(reply.body).error, s.name).to.equal('dlp_blocked');
      }
    }
    expect(provider.seen.length).to.equal(before);
  });

  it('with DLP off for a host (dlp: false), every spelling goes through', async () => {
    const before = provider.seen.length;
    for (const s of exempt) {
      const reply = await send('open.example.com', s);
      expect(reply.status, `${s.name}: ${reply.body}`).to.be.oneOf([200, 404]); // the fake provider's answer
    }
    expect(provider.seen.length - before).to.equal(exempt.length);
    // The needles are real: the provider received them (a search for nothing would find nothing).
    const upstream = Buffer.concat(
      provider.seen
        .slice(before)
        .map((r) => Buffer.concat([Buffer.from(r.path + JSON.stringify(r.headers)), Buffer.from(r.body ?? '')])),
    );
    for (const s of exempt)
      expect(
        s.needles.some((n) => found(upstream, n)),
        s.name,
      ).to.equal(true);
  });

  it('a response that echoes every spelling back comes back whole (and is recorded masked: see below)', async () => {
    const back: string[] = [];
    for (const s of echoed) {
      const reply = await send('open.example.com', s);
      expect(reply.status, `${s.name}: ${reply.body}`).to.equal(200);
      back.push(reply.body);
    }
    expect(back.join('')).to.contain(echoed.find((s) => s.name === 'custom header')!.needles[0] as string);
  });

  it('in report mode every spelling goes through, logged as would_deny', async () => {
    chain.writeConfig(config('report'));
    // moat-policy reloads moat.yaml within a quarter second.
    let first = { status: 403, body: '' };
    for (let i = 0; i < 50 && first.status === 403; i++) {
      await new Promise((r) => setTimeout(r, 200));
      first = await send('api.example.com', reported[0]);
    }
    expect(first.status, first.body).to.be.oneOf([200, 404]);
    for (const s of reported.slice(1)) {
      const reply = await send('api.example.com', s);
      expect(reply.status, `${s.name}: ${reply.body}`).to.be.oneOf([200, 404]);
    }
  });

  it(
    'none of them, in any spelling, is under MOAT_HOME (ledger, ' + 'logs, spools), in tap output or the dashboard API',
    async () => {
      // Wait until the ledger holds the traffic: every request's response at boundary 0.
      const want = sent;
      let events: any[] = [];
      for (let i = 0; i < 100; i++) {
        events = await chain.events();
        if (events.filter((e) => e.direction === 'response' && e.boundary === 0).length >= want) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(events.filter((e) => e.direction === 'response' && e.boundary === 0).length).to.be.at.least(want);
      expect(events.some((e) => e.decision === 'would_deny')).to.equal(true);
      // The masks are there: the recording kept paths, headers and bodies, masked.
      const all = JSON.stringify(events);
      for (const label of ['aws_access_key', 'slack_token', 'anthropic_key'])
        expect(all).to.contain(`[REDACTED:${label}]`);

      const tap1 = await chain.cli(['tap', '1', '--json', '--history', '200', '--count', '1000'], {}, 6000);
      const tap2 = await chain.cli(['tap', '2', '--json', '--history', '200', '--count', '1000'], {}, 6000);
      expect(tap1.stdout + tap2.stdout).to.contain('/v1/');
      const dash = (await chain.status()).find((r) => r.role === 'dashboard');
      const url = new URL(dash.url);
      const token = url.searchParams.get('token')!;
      const api = [
        await dashboardGet(`${url.origin}/_/api/events?limit=1000`, token),
        await dashboardGet(`${url.origin}/_/api/requests?limit=1000`, token),
      ];
      for (const t of new Set(events.map((e) => e.trace)))
        api.push(await dashboardGet(`${url.origin}/_/api/trace/${t}`, token));
      expect(api[0]).to.contain('[REDACTED:');

      const places: [string, Buffer][] = [
        ...filesUnder(chain.home).map((f) => [f, readFileSync(f)] as [string, Buffer]),
        ['tap 1', Buffer.from(tap1.stdout + tap1.stderr)],
        ['tap 2', Buffer.from(tap2.stdout + tap2.stderr)],
        ['dashboard API', Buffer.from(api.join('\n'))],
      ];
      expect(places.some(([f]) => f.endsWith('ledger.db'))).to.equal(true);
      expect(places.some(([f]) => /moat-telemetry.*\.log$/.test(f))).to.equal(true);
      const leaks: string[] = [];
      for (const s of [...blocked, ...exempt, ...echoed, ...reported]) {
        for (const needle of s.needles)
          for (const [where, data] of places) if (found(data, needle)) leaks.push(`${s.name} in ${where}`);
      }
      expect(leaks).to.deep.equal([]);
    },
  );
});
