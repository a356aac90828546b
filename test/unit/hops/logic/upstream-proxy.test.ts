// egress.upstream_proxy's pure parts: the URL the config may give, which hosts go through the proxy (bypass globs and
// egress.resolve go direct), the Proxy-Authorization, and how its failures reach the agent (named, never its
// credentials).
import { expect } from 'chai';
import {
  parseUpstreamProxyUrl,
  upstreamProxyAuthorization,
  upstreamProxyName,
  viaUpstreamProxy,
  UPSTREAM_PROXY_AUTH,
  UPSTREAM_PROXY_REFUSED,
  UPSTREAM_PROXY_UNAVAILABLE,
} from '../../../../hops/logic/upstream-proxy';
import { describeFailure } from '../../../../hops/logic/failure';

describe('egress.upstream_proxy', () => {
  it('takes http://host[:port] only: no credentials, path or other scheme in the URL', () => {
    const table: [string, unknown][] = [
      ['http://proxy.corp:3128', { host: 'proxy.corp', port: 3128 }],
      ['http://proxy.corp:3128/', { host: 'proxy.corp', port: 3128 }],
      ['http://proxy.corp', { host: 'proxy.corp', port: 80 }],
      ['http://10.1.2.3:8080', { host: '10.1.2.3', port: 8080 }],
      ['http://[fd00::1]:3128', { host: 'fd00::1', port: 3128 }],
    ];
    for (const [url, want] of table) expect(parseUpstreamProxyUrl(url), url).to.deep.equal(want);
    const bad: [string, RegExp][] = [
      ['http://alice:secret@proxy.corp:3128', /user or password.*credentials_env/],
      ['http://alice@proxy.corp:3128', /user or password/],
      ['https://proxy.corp:3128', /scheme must be http/],
      ['socks5://proxy.corp:1080', /scheme must be http/],
      ['http://proxy.corp:3128/path', /path/],
      ['http://proxy.corp:3128/?x=1', /query/],
      ['proxy.corp:3128', /scheme must be http|not a URL/],
      ['not a url', /not a URL/],
      ['http://alice:secret@proxy:99999', /not a URL/], // unparsable: the text is not echoed, it may hold a password
    ];
    for (const [url, want] of bad) {
      const got = parseUpstreamProxyUrl(url);
      expect(got, url).to.have.property('problem').that.matches(want);
      expect((got as { problem: string }).problem, url).to.not.contain('secret');
    }
  });

  it('sends a host through the proxy unless a bypass glob matches it or egress.resolve maps it', () => {
    const proxy = { bypass: ['*.internal.corp', 'localhost', '10.*'] };
    const resolve = { 'api.anthropic.com:443': '127.0.0.1:9999', 'mapped.test': '127.0.0.1' };
    const table: [string, number, boolean][] = [
      ['api.openai.com', 443, true],
      ['git.internal.corp', 443, false],
      ['GIT.Internal.Corp.', 443, false], // spelled otherwise: the same host
      ['internal.corp', 443, true], // *.internal.corp needs a label before it
      ['localhost', 8080, false],
      ['10.0.0.5', 80, false],
      ['2130706433', 80, true], // 127.0.0.1, which no glob here names
      ['api.anthropic.com', 443, false], // mapped for this port
      ['api.anthropic.com', 8443, true], // not for this one
      ['mapped.test', 1234, false], // mapped for every port
    ];
    for (const [host, port, via] of table)
      expect(viaUpstreamProxy(proxy, resolve, host, port), `${host}:${port}`).to.equal(via);
    expect(viaUpstreamProxy(undefined, {}, 'api.openai.com', 443), 'no proxy').to.equal(false);
  });

  it('names the proxy host:port and makes a Basic Proxy-Authorization of user:password', () => {
    expect(upstreamProxyName({ host: 'proxy.corp', port: 3128 })).to.equal('proxy.corp:3128');
    expect(upstreamProxyName({ host: 'fd00::1', port: 3128 })).to.equal('[fd00::1]:3128');
    expect(upstreamProxyAuthorization('alice:p:w')).to.equal(`Basic ${Buffer.from('alice:p:w').toString('base64')}`);
    expect(upstreamProxyAuthorization(undefined)).to.equal(undefined);
    expect(upstreamProxyAuthorization('')).to.equal(undefined);
  });

  it("maps the proxy's failures to 502s naming it, never its credentials; other failures as before", () => {
    const tagged = (code: string, extra: object) =>
      Object.assign(new Error('x'), { code, upstreamProxy: 'proxy.corp:3128' }, extra) as NodeJS.ErrnoException;
    const table: [NodeJS.ErrnoException, boolean, string, RegExp][] = [
      [tagged(UPSTREAM_PROXY_AUTH, { proxyStatus: 407 }), false, 'upstream_proxy_auth', /proxy\.corp:3128.*407/],
      [tagged(UPSTREAM_PROXY_AUTH, { proxyStatus: 401 }), false, 'upstream_proxy_auth', /answered 401/],
      [
        tagged(UPSTREAM_PROXY_UNAVAILABLE, { cause: 'ECONNREFUSED' }),
        false,
        'upstream_proxy_unavailable',
        /proxy\.corp:3128.*could not be reached.*ECONNREFUSED/,
      ],
      // Tagged unavailable wins over the request's own timer: the proxy, not the destination, failed.
      [tagged(UPSTREAM_PROXY_UNAVAILABLE, { cause: 'ETIMEDOUT' }), true, 'upstream_proxy_unavailable', /ETIMEDOUT/],
      [tagged(UPSTREAM_PROXY_REFUSED, { proxyStatus: 403 }), false, 'upstream_proxy_refused', /answered 403/],
    ];
    for (const [err, timedOut, error, message] of table) {
      const f = describeFailure(err, timedOut, undefined, 'api.openai.com');
      expect(f.status, error).to.equal(502);
      expect(f.error).to.equal(error);
      expect(f.upstream_proxy).to.equal('proxy.corp:3128');
      expect(f.message).to.match(message).and.contain('api.openai.com');
    }
    // Not tagged: the destination's, as without a proxy.
    const plain = describeFailure(
      Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
      false,
      undefined,
      'api.openai.com',
    );
    expect(plain).to.deep.equal({
      status: 502,
      error: 'upstream_unavailable',
      message: 'api.openai.com: ECONNREFUSED',
    });
  });
});
