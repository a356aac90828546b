// One reading of every path (issue 16, paths), through an in-process chain with real TLS at every boundary: a
// policy rule on /admin/* is not bypassed by the spellings a server reads as /admin/users, what servers read
// differently is refused 400 ambiguous_request (at ingress, and at any later link too), and what is allowed
// reaches the provider in the form the rules saw. ingress.allow_in_paths lets one encoding through as written.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { FakeProvider, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { startInprocChain, type InprocChain } from '../helpers/inproc-chain';
import { collect, openTlsTunnel, rawExchange, type RawReply } from '../helpers/raw-client';
import { LINK_SERVERNAME } from '../../hops/runtime/forwarder';
import type { PolicyRule } from '../../schemas/generated/chain-config';
import type { PathAllowance } from '../../hops/logic/canonical-path';

const HOST = 'api.example.com';
const RULES = [{ match: `${HOST}/admin/*`, action: 'deny' as const, reason: 'admin is off limits' }];

/** GET `path` inside a CONNECT + TLS tunnel through the chain's ingress, the bytes exactly as given. */
async function getInTunnel(chain: InprocChain, path: string): Promise<RawReply> {
  const auth = `Basic ${Buffer.from(`moat:${chain.token}`).toString('base64')}`;
  const s = await openTlsTunnel(chain.ingressPort, auth, readFileSync(chain.layout.caCertFile, 'utf8'), HOST);
  const reply = collect(s, 5000);
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
  return reply;
}

/** The provider, and an in-process chain with moat-policy whose egress reaches only HOST, on it. */
async function startProviderAndChain(
  rules: PolicyRule[],
  allowInPaths?: PathAllowance[],
): Promise<{ provider: FakeProvider; chain: InprocChain }> {
  const provider = await new FakeProvider().start();
  const chain = await startInprocChain({
    hops: ['moat-policy'],
    rules,
    egress: {
      allow: [HOST],
      resolve: { [`${HOST}:443`]: `127.0.0.1:${provider.port}` },
      extraCa: [PROVIDER_CA_FILE],
    },
    ...(allowInPaths ? { allowInPaths } : {}),
  });
  return { provider, chain };
}

const errorOf = (reply: RawReply) => /"error":"([a-z_]+)"/.exec(reply.head)?.[1];

describe('e2e: one reading of every path (in-process chain, moat-policy denies /admin/*)', function () {
  this.timeout(30_000);
  let provider: FakeProvider;
  let chain: InprocChain;

  before(async () => {
    ({ provider, chain } = await startProviderAndChain(RULES));
  });

  after(async () => {
    await chain?.stop();
    await provider?.stop();
  });

  it('the spellings of issue 16 are denied or refused, and none reaches the provider', async () => {
    const before = provider.seen.length;
    const outcomes: Record<string, string | undefined> = {};
    for (const path of [
      '/admin/users',
      '/./admin/users',
      '/x/../admin/users',
      '/%61dmin/users',
      '/admin%2Fusers',
      '/%2e/admin/users',
    ]) {
      const reply = await getInTunnel(chain, path);
      outcomes[path] = `${reply.status} ${errorOf(reply)}`;
    }
    expect(outcomes).to.deep.equal({
      '/admin/users': '403 policy_denied',
      '/./admin/users': '403 policy_denied',
      '/x/../admin/users': '403 policy_denied',
      '/%61dmin/users': '403 policy_denied',
      '/admin%2Fusers': '400 ambiguous_request',
      '/%2e/admin/users': '403 policy_denied',
    });
    expect(provider.seen.slice(before)).to.deep.equal([]);
  });

  it('an allowed request reaches the provider in the canonical form: /%61pi/x arrives as /api/x', async () => {
    const reply = await getInTunnel(chain, '/%61pi/./x');
    expect(reply.status, reply.head).to.equal(404); // the fake provider's answer for a path it has no page for
    expect(provider.seen.at(-1)?.path).to.equal('/api/x');
  });

  it('the refusal says what is ambiguous (x-moat-error, the reason)', async () => {
    const reply = await getInTunnel(chain, '/projects/group%2fname');
    expect(reply.status).to.equal(400);
    expect(reply.head).to.match(/x-moat-error: ambiguous_request/i);
    expect(reply.head).to.contain('encoded slash');
  });

  it(
    'every later link reads the path again: sent straight to hop 1 with its credential (link TLS, base URL), a ' +
      'spelling is read as the path and an ambiguous one refused there too',
    async () => {
      const credential = readFileSync(chain.layout.linkTokenFile('1-moat-policy'), 'utf8').trim();
      const auth = `Proxy-Authorization: Basic ${Buffer.from(`moat:${credential}`).toString('base64')}\r\n`;
      const ask = (target: string) =>
        new Promise<string>((resolve, reject) => {
          const s = tls.connect(
            {
              host: '127.0.0.1',
              port: chain.links[1].port,
              servername: LINK_SERVERNAME,
              ca: readFileSync(chain.layout.caCertFile),
            },
            () => s.write(`GET https://${HOST}${target} HTTP/1.1\r\nHost: ${HOST}\r\n${auth}Connection: close\r\n\r\n`),
          );
          let out = '';
          s.on('data', (d) => (out += d.toString('latin1')));
          s.on('end', () => resolve(out));
          s.on('error', reject);
        });
      const before = provider.seen.length;
      const refused = await ask('/admin%5cusers');
      expect(refused).to.match(/^HTTP\/1\.1 400 [^]*ambiguous_request/);
      expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4))).to.deep.include({
        error: 'ambiguous_request',
        ambiguity: '%5C',
      });
      expect(refused, 'the setting that would let it through').to.contain('ingress.allow_in_paths: [\\"%5C\\"]');
      expect(await ask('/x/%2e%2e/admin/users')).to.match(/^HTTP\/1\.1 403 [^]*policy_denied/);
      // The entrance of a base_url hop's requests: the destination and the credential in the path, the rest read alike.
      const viaBase = async (rest: string) =>
        (
          await rawExchange(
            chain.links[1].port,
            `GET /_moat/${credential}/https/${HOST}${rest} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
            5000,
          )
        ).head;
      expect(await viaBase('/x/../%61dmin/users')).to.match(/^HTTP\/1\.1 403 [^]*policy_denied/);
      expect(await viaBase('/admin%252fusers')).to.match(/^HTTP\/1\.1 400 [^]*ambiguous_request/);
      expect(provider.seen.length).to.equal(before);
    },
  );
});

describe(
  'e2e: ingress.allow_in_paths lets an encoding through ' + 'as written, to the rules and the provider alike',
  function () {
    this.timeout(30_000);
    let provider: FakeProvider;
    let chain: InprocChain;

    before(async () => {
      ({ provider, chain } = await startProviderAndChain(
        [...RULES, { match: `${HOST}/projects/secret%2F*`, action: 'deny', reason: 'that project is off limits' }],
        ['%2F'],
      ));
    });

    after(async () => {
      await chain?.stop();
      await provider?.stop();
    });

    it('%2F passes every link, kept (in upper case): the provider reads the bytes the rules read', async () => {
      const reply = await getInTunnel(chain, '/projects/group%2fname/./issues');
      expect(reply.status, reply.head).to.equal(404);
      expect(provider.seen.at(-1)?.path).to.equal('/projects/group%2Fname/issues');
    });

    it(
      'a rule written with the kept encoding decides on it; ' + 'what the setting does not name is still refused',
      async () => {
        const before = provider.seen.length;
        const denied = await getInTunnel(chain, '/projects/secret%2fplans');
        expect(denied.status, denied.head).to.equal(403);
        const refused = await getInTunnel(chain, '/admin%5Cusers');
        expect(refused.status, refused.head).to.equal(400);
        const hidden = await getInTunnel(chain, '/x%2F..%2Fadmin/users');
        expect(errorOf(hidden), hidden.head).to.equal('ambiguous_request');
        expect(provider.seen.length).to.equal(before);
      },
    );
  },
);
