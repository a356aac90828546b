// Spellings of a path that a server reads as another (issue 16, paths). With `*.example.com/admin/*: deny`, an agent
// tries every spelling it can think of that some server reads as /admin/users (dot segments, encoded letters and
// dots, merged slashes, backslashes, double encoding, overlong UTF-8, path parameters, NUL), through a chain started
// by `moat chain up`, by three entrances: CONNECT + TLS, plain HTTP inside a CONNECT tunnel, and absolute-form
// http://. Each is denied (403) or refused (400); nothing but the one allowed request reaches the fake providers, and
// that one arrives, and is recorded, in the form the rules read.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { join } from 'node:path';
import { CliChain, egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { collect, openTlsTunnel, openTunnel, rawExchange, type RawReply } from '../helpers/raw-client';
import { canonicalPath } from '../../hops/logic/canonical-path';
import { NO_WAY_ROUND } from '../../hops/logic/agent-hint';
import { REPO_ROOT } from '../helpers/repo-root';

// Each of these is /admin/users (or a path under /admin/) to some server, or has no one reading.
const SPELLINGS = [
  '/admin/users',
  '/ADMIN/users',
  '/./admin/users',
  '/x/../admin/users',
  '/x/y/../../admin/users',
  '/../admin/users',
  '/../../../../admin/users',
  '/admin/./users',
  '/admin/x/../users',
  '/admin/users/.',
  '/%61dmin/users',
  '/a%64min/users',
  '/%61%64%6d%69%6e/users',
  '/%61%64%6D%69%6E/%75%73%65%72%73',
  '/%41dmin/users',
  '/%2e/admin/users',
  '/%2E/admin/users',
  '/x/%2e%2e/admin/users',
  '/x/.%2e/admin/users',
  '/x/%2E./admin/users',
  '/%2e%2e/admin/users',
  '//admin/users',
  '/admin//users',
  '///admin///users',
  '/x//../admin/users',
  '/./x/../%2e/%61dmin//users',
  '/admin%2Fusers',
  '/admin%2fusers',
  '/%2Fadmin/users',
  '/x/..%2Fadmin/users',
  '/x/%2e%2e%2fadmin/users',
  '/admin\\users',
  '/x\\..\\admin\\users',
  '/\\admin/users',
  '/admin%5Cusers',
  '/x/..%5cadmin/users',
  '/%252e/admin/users',
  '/x/%252e%252e/admin/users',
  '/%2561dmin/users',
  '/admin%252Fusers',
  '/%25%32%65/admin/users',
  '/%c0%ae/admin/users',
  '/x/%c0%ae%c0%ae/admin/users',
  '/x/%e0%80%ae%e0%80%ae/admin/users',
  '/admin%c0%afusers',
  '/admin%ef%bc%8fusers',
  '/admin;x/users',
  '/admin;/users',
  '/x/..;/admin/users',
  '/;/admin/users',
  '/admin%00/users',
  '/x/..%00/admin/users',
  '/admin%0a/users',
  '/admin%09/users',
  '/admin/users#x',
  '/x#/../admin/users',
  '/admin%/users',
  '/%admin/users',
  '/%%36%31dmin/users',
];
// Allowed, and the one form in which it must reach the provider.
const ALLOWED = '/%61pi/./x//y/../z';
const ALLOWED_AS = '/api/x/z';

describe('security: a path is decided as the server reads it, however it is spelled', function () {
  this.timeout(180_000);
  const chain = new CliChain('pathspell');
  let provider: FakeProvider;
  let plain: http.Server;
  const plainSeen: string[] = [];
  let auth = '';
  let ca = '';

  before(async () => {
    provider = await new FakeProvider().start();
    plain = http.createServer((req, res) => {
      plainSeen.push(req.url ?? '');
      req.resume();
      res.end('plain');
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    chain.writeConfig(`name: pathspell
proxies: [moat-telemetry, moat-policy]
policy:
  rules:
    - match: "*.example.com/admin/*"
      action: deny
      reason: admin is off limits
egress:
  allow: [api.example.com, plain.example.com]
  resolve:
    "api.example.com:443": "127.0.0.1:${provider.port}"
    "plain.example.com:80": "127.0.0.1:${(plain.address() as AddressInfo).port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`);
    await chain.up();
    auth = `Basic ${Buffer.from(`moat:${readFileSync(chain.layout.tokenFile, 'utf8').trim()}`).toString('base64')}`;
    ca = readFileSync(chain.layout.caCertFile, 'utf8');
  });

  after(async () => {
    await chain.cleanup();
    await provider?.stop();
    plain?.close();
  });

  const ingress = () => JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).ingressPort as number;
  const overTls = async (path: string): Promise<RawReply> => {
    const s = await openTlsTunnel(ingress(), auth, ca, 'api.example.com');
    const reply = collect(s, 5000);
    s.write(`GET ${path} HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n`);
    return reply;
  };
  const inPlainTunnel = async (path: string): Promise<RawReply> => {
    const s = await openTunnel(ingress(), auth, 'plain.example.com:80');
    const reply = collect(s, 5000);
    s.write(`GET ${path} HTTP/1.1\r\nHost: plain.example.com\r\nConnection: close\r\n\r\n`);
    return reply;
  };
  const absolute = (path: string): Promise<RawReply> =>
    rawExchange(
      ingress(),
      `GET http://plain.example.com${path} HTTP/1.1\r\nHost: plain.example.com\r\nProxy-Authorization: ` +
        `${auth}\r\nConnection: close\r\n\r\n`,
      5000,
    );
  const ENTRANCES: [string, (path: string) => Promise<RawReply>][] = [
    ['CONNECT + TLS', overTls],
    ['plain HTTP in a CONNECT tunnel', inPlainTunnel],
    ['absolute-form http://', absolute],
  ];

  // entrance -> spelling -> "status error", for comparing the entrances afterwards.
  const outcomes = new Map<string, Record<string, string>>();
  for (const [entrance, send] of ENTRANCES) {
    it(
      `${entrance}: each of ${SPELLINGS.length} spellings is denied (403) or refused (400), and none reaches ` +
        `the provider`,
      async () => {
        const before = provider.seen.length + plainSeen.length;
        const got: string[] = [];
        const seen: Record<string, string> = {};
        for (const path of SPELLINGS) {
          const reply = await send(path);
          seen[path] = `${reply.status} ${/"error":"([a-z_]+)"/.exec(reply.head)?.[1]}`;
          if (reply.status !== 403 && reply.status !== 400)
            got.push(`${path}: ${reply.status ?? 'no answer'} ${reply.head.split('\r\n')[0]}`);
        }
        outcomes.set(entrance, seen);
        expect(got, 'spellings that were not denied or refused').to.deep.equal([]);
        expect(provider.seen.length + plainSeen.length - before, 'requests that reached a provider').to.equal(0);
      },
    );
  }

  it(
    'every entrance reads each spelling alike (the same answer, ' + "the same error), none by the URL parser's reading",
    () => {
      const [first, ...others] = ENTRANCES.map(([entrance]) => outcomes.get(entrance));
      expect(first, 'the entrances above ran').to.not.equal(undefined);
      for (const other of others) expect(other).to.deep.equal(first);
      expect(first!['/admin\\users'], 'a backslash is refused, not read as /').to.equal('400 ambiguous_request');
    },
  );

  it('the refusals tell the agent that going round moat fails too (400 ambiguous_request, 407 without the token)', async () => {
    const ask = (path: string, authorization?: string) =>
      new Promise<{ status: number; body: { error?: string; message?: string } }>((resolve, reject) => {
        const headers: Record<string, string> = { host: 'plain.example.com' };
        if (authorization) headers['proxy-authorization'] = authorization;
        http
          .get({ host: '127.0.0.1', port: ingress(), path: `http://plain.example.com${path}`, headers }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          })
          .on('error', reject);
      });
    const ambiguous = await ask('/admin%2Fusers', auth);
    expect([ambiguous.status, ambiguous.body.error]).to.deep.equal([400, 'ambiguous_request']);
    expect(ambiguous.body.message).to.contain(NO_WAY_ROUND).and.to.contain('plain form');
    const unauthorized = await ask('/api/x');
    expect([unauthorized.status, unauthorized.body.error]).to.deep.equal([407, 'proxy_auth_required']);
    expect(unauthorized.body.message).to.contain(NO_WAY_ROUND).and.to.contain('moat chain run');
  });

  it(
    'absolute-form: a backslash in the authority (the URL ' + "parser reads it as the path's start) is refused",
    async () => {
      // Node's parser refuses it (400 before moat reads it); LinkServer.onPlainRequest would answer ambiguous_request.
      const reply = await rawExchange(
        ingress(),
        `GET http://plain.example.com\\admin\\users HTTP/1.1\r\nHost: ` +
          `plain.example.com\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
        5000,
      );
      expect(reply.status, reply.head).to.equal(400);
      expect(plainSeen.filter((p) => p.includes('admin'))).to.deep.equal([]);
    },
  );

  it('the allowed request reaches the provider, by every entrance, only in the form the rules read', async () => {
    expect((await overTls(ALLOWED)).status).to.equal(404); // the fake provider has no such page: it answered
    expect((await inPlainTunnel(ALLOWED)).status).to.equal(200);
    expect((await absolute(ALLOWED)).status).to.equal(200);
    expect(provider.seen.map((r) => r.path)).to.deep.equal([ALLOWED_AS]);
    expect(plainSeen).to.deep.equal([ALLOWED_AS, ALLOWED_AS]);
  });

  it('every recorded path is canonical: the ledger holds the form the rules read, never a spelling', async () => {
    let events: { path?: string; host?: string }[] = [];
    for (let i = 0; i < 50; i++) {
      events = await chain.events();
      if (events.filter((e) => e.path === ALLOWED_AS).length >= 3 * 3) break; // 3 requests, at boundaries 0, 1, 2
      await new Promise((r) => setTimeout(r, 200));
    }
    const paths = events.filter((e) => e.path !== undefined).map((e) => e.path!);
    expect(paths.filter((p) => p === ALLOWED_AS).length).to.be.at.least(9);
    expect(
      paths.filter((p) => canonicalPath(p).ok !== true || (canonicalPath(p) as { path: string }).path !== p),
      'recorded paths not in canonical form',
    ).to.deep.equal([]);
    const verify = await chain.cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });

  it('a URL inside a path reaches the server as the rules read it (`https:/` is not made `https://`)', async () => {
    const path = '/web/https:/example.com/x';
    expect(canonicalPath(path)).to.deep.equal({ ok: true, path });
    const [providerBefore, plainBefore] = [provider.seen.length, plainSeen.length];
    expect((await overTls(path)).status).to.equal(404);
    expect((await absolute(path)).status).to.equal(200);
    expect(provider.seen.slice(providerBefore).map((r) => r.path)).to.deep.equal([path]);
    expect(plainSeen.slice(plainBefore)).to.deep.equal([path]);
  });
});

describe(
  'security: paths through a third-party hop (a base_url hop, Headroom stand-in) are read alike before and ' +
    'after it',
  function () {
    this.timeout(180_000);
    const STAND_INS = join(REPO_ROOT, 'test', 'fixtures', 'stand-ins', 'bin');
    let auth = '';
    let ca = '';

    const { chain, provider } = chainFixture({
      name: 'pathhop',
      env: { PATH: `${STAND_INS}:${process.env.PATH}` },
      config: (provider) => `name: pathhop
proxies: [chopratejas/headroom, moat-policy]
policy:
  rules:
    - match: "api.anthropic.com/admin/*"
      action: deny
      reason: admin is off limits
${egressTo(provider.port)}
`,
    });

    before(() => {
      auth = `Basic ${Buffer.from(`moat:${readFileSync(chain.layout.tokenFile, 'utf8').trim()}`).toString('base64')}`;
      ca = readFileSync(chain.layout.caCertFile, 'utf8');
    });

    const send = async (method: string, path: string, body = ''): Promise<RawReply> => {
      const ingress = JSON.parse(readFileSync(chain.layout.planFile, 'utf8')).ingressPort as number;
      const s = await openTlsTunnel(ingress, auth, ca, 'api.anthropic.com');
      const reply = collect(s, 10_000);
      s.write(
        `${method} ${path} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: ` +
          `application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return reply;
    };

    it('the spellings are denied or refused; none reaches the provider', async () => {
      const got: string[] = [];
      for (const path of SPELLINGS) {
        const reply = await send('GET', path);
        if (reply.status !== 403 && reply.status !== 400) got.push(`${path}: ${reply.status ?? 'no answer'}`);
      }
      expect(got).to.deep.equal([]);
      expect(provider.seen).to.deep.equal([]);
    });

    it(
      "the hop's scope reads the canonical path: /%761/./messages is /v1/messages, so Headroom takes it (and " +
        'compresses it)',
      async () => {
        const body = JSON.stringify({
          model: 'claude-x',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'x'.repeat(500) }],
        });
        const reply = await send('POST', '/%761/./messages', body);
        expect(reply.status, reply.head).to.equal(200);
        expect(provider.seen.map((r) => r.path)).to.deep.equal(['/v1/messages']);
        expect(provider.seen[0].body, 'Headroom (in scope) shortened the message').to.contain('[headroom:');
      },
    );
  },
);
