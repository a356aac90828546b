// CONNECT's authority-form (RFC 9110 3.2.3 / 9.3.6): what a link accepts as a tunnel's destination.
import { expect } from 'chai';
import { parseAuthority } from '../../hops/link-server';

describe('CONNECT authority', () => {
  it('takes host:port, an IPv4 address, and an IPv6 address in brackets; hosts in lower case', () => {
    expect(parseAuthority('API.Anthropic.com:443')).to.deep.equal({ host: 'api.anthropic.com', port: 443 });
    expect(parseAuthority('127.0.0.1:22')).to.deep.equal({ host: '127.0.0.1', port: 22 });
    expect(parseAuthority('[::1]:8443')).to.deep.equal({ host: '::1', port: 8443 });
    expect(parseAuthority('api.anthropic.com:65535')).to.deep.equal({ host: 'api.anthropic.com', port: 65535 });
  });

  it('refuses ports out of range or not numeric, missing parts, and colons outside brackets', () => {
    const refused = ['api.anthropic.com:0', 'api.anthropic.com:65536', 'api.anthropic.com:abc', 'api.anthropic.com', ':443', 'api.anthropic.com:-1',
      // Regression (found by the resilience suite): this tunnelled to a host named "api.anthropic.com:443".
      'api.anthropic.com:443:443', '::1:443', '[::1:443', 'a b:443', '[api.anthropic.com]:443'];
    for (const authority of refused) expect(parseAuthority(authority), authority).to.equal(undefined);
  });
});
