// CONNECT's authority-form (RFC 9110 3.2.3 / 9.3.6): what a link accepts as a tunnel's destination.
import { expect } from 'chai';
import { parseAbsoluteTarget, parseAuthority } from '../../../../hops/runtime/link-server';

describe('CONNECT authority', () => {
  it('takes host:port, an IPv4 address, and an IPv6 address in brackets; hosts in lower case', () => {
    expect(parseAuthority('API.Anthropic.com:443')).to.deep.equal({ host: 'api.anthropic.com', port: 443 });
    expect(parseAuthority('127.0.0.1:22')).to.deep.equal({ host: '127.0.0.1', port: 22 });
    expect(parseAuthority('[::1]:8443')).to.deep.equal({ host: '::1', port: 8443 });
    expect(parseAuthority('api.anthropic.com:65535')).to.deep.equal({ host: 'api.anthropic.com', port: 65535 });
  });

  it('refuses ports out of range or not numeric, missing parts, and colons outside brackets', () => {
    const refused = [
      'api.anthropic.com:0',
      'api.anthropic.com:65536',
      'api.anthropic.com:abc',
      'api.anthropic.com',
      ':443',
      'api.anthropic.com:-1',
      // Regression (found by the resilience suite): this tunnelled to a host named "api.anthropic.com:443".
      'api.anthropic.com:443:443',
      '::1:443',
      '[::1:443',
      'a b:443',
      '[api.anthropic.com]:443',
    ];
    for (const authority of refused) expect(parseAuthority(authority), authority).to.equal(undefined);
  });
});

describe('absolute-form request targets (link TLS)', () => {
  it('takes scheme, host and port (the scheme default when absent) and the origin-form rest', () => {
    const cases: [string, string, string, number, string][] = [
      ['https://API.anthropic.com/v1/messages?beta=1', 'https', 'api.anthropic.com', 443, '/v1/messages?beta=1'],
      ['http://plain.example.com:8080', 'http', 'plain.example.com', 8080, '/'],
      ['https://[::1]:8443/x', 'https', '::1', 8443, '/x'],
      ['https://a.example?q=1', 'https', 'a.example', 443, '/?q=1'],
    ];
    for (const [target, scheme, host, port, path] of cases)
      expect(parseAbsoluteTarget(target), target).to.deep.equal({ destination: { scheme, host, port }, path });
  });

  it('refuses origin-form, other schemes, userinfo, and bad authorities', () => {
    const refused = [
      '/v1/models',
      'ftp://a.example/x',
      'https://user:pw@a.example/',
      'https://a.example:443:443/',
      'https://a.example:0/',
      'https:///x',
      'api.anthropic.com:443',
    ];
    for (const target of refused) expect(parseAbsoluteTarget(target), target).to.equal(undefined);
  });
});
