// What the Node preload reads from the environment: the proxy per scheme, NO_PROXY, and which Node versions route
// through HTTPS_PROXY themselves.
import { expect } from 'chai';
import { bypassesProxy, honoursEnvProxy, parseNoProxy, proxyFor } from '../../../../supervisor/agent/proxy-env';

describe('Node preload: the proxy environment', () => {
  it('reads the proxy per scheme as undici does (lower case first, https falls back to http)', () => {
    const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    const cases: [NodeJS.ProcessEnv, 'http' | 'https', ReturnType<typeof proxyFor>][] = [
      [{}, 'https', undefined],
      [
        { HTTPS_PROXY: 'http://moat:t%40k@127.0.0.1:8080' },
        'https',
        { host: '127.0.0.1', port: 8080, authorization: basic('moat:t@k') },
      ],
      [
        { HTTPS_PROXY: 'http://127.0.0.1:1', https_proxy: 'http://127.0.0.1:2' },
        'https',
        { host: '127.0.0.1', port: 2, authorization: '' },
      ],
      [{ HTTP_PROXY: 'http://[::1]' }, 'https', { host: '::1', port: 80, authorization: '' }],
      [{ HTTPS_PROXY: 'http://127.0.0.1:1' }, 'http', undefined],
      [{ HTTPS_PROXY: 'https://127.0.0.1:1' }, 'https', undefined],
      [{ HTTPS_PROXY: 'not a url' }, 'https', undefined],
    ];
    for (const [env, scheme, want] of cases) expect(proxyFor(env, scheme), JSON.stringify(env)).to.deep.equal(want);
  });

  it('sends a host direct only when NO_PROXY names it or a domain above it', () => {
    const cases: [string, string, number, boolean][] = [
      ['localhost,127.0.0.1,::1', 'localhost', 443, true],
      ['localhost,127.0.0.1,::1', 'LOCALHOST.', 80, true],
      ['localhost,127.0.0.1,::1', '127.0.0.1', 8080, true],
      ['localhost,127.0.0.1,::1', '::1', 443, true],
      ['localhost,127.0.0.1,::1', '[::1]', 443, true],
      ['localhost,127.0.0.1,::1', 'api.anthropic.com', 443, false],
      ['localhost,127.0.0.1,::1', 'localhost.evil.com', 443, false],
      ['localhost,127.0.0.1,::1', 'evillocalhost', 443, false],
      ['localhost,127.0.0.1,::1', '127.0.0.10', 443, false],
      ['localhost,127.0.0.1,::1', '::11', 443, false],
      ['.example.com', 'a.example.com', 443, true],
      ['*.example.com', 'example.com', 443, true],
      ['example.com', 'notexample.com', 443, false],
      ['example.com:8443', 'example.com', 443, false],
      ['example.com:8443', 'example.com', 8443, true],
      ['[::1]:8080 other', '::1', 8080, true],
      ['*', 'anything', 1, true],
      ['', 'localhost', 80, false],
    ];
    for (const [noProxy, host, port, want] of cases)
      expect(bypassesProxy(host, port, parseNoProxy(noProxy)), `${noProxy} / ${host}:${port}`).to.equal(want);
  });

  it('knows which Node versions honour NODE_USE_ENV_PROXY for fetch and http/https', () => {
    const cases: [string, boolean][] = [
      ['v20.19.0', false],
      ['v20.20.2', false],
      ['v22.20.0', false],
      ['v22.21.0', true],
      ['v23.11.0', false],
      ['v24.4.1', false],
      ['v24.5.0', true],
      ['v25.0.0', true],
      ['garbage', false],
    ];
    for (const [version, want] of cases) expect(honoursEnvProxy(version), version).to.equal(want);
  });
});
