// The destination of a plain HTTP request in a transparent run: its Host header or absolute-form target.
import { expect } from 'chai';
import { requestHost, MAX_HEAD_BYTES } from '../../../../supervisor/transparent/http-host';

const head = (text: string) => Buffer.from(text.replace(/\n/g, '\r\n'));

describe('transparent: the host of a plain HTTP request', () => {
  const cases: [string, string, ReturnType<typeof requestHost>][] = [
    [
      'Host header',
      'GET /v1/models HTTP/1.1\nHost: api.example.com\nAccept: */*\n\n',
      { kind: 'host', host: 'api.example.com' },
    ],
    [
      'Host with a port, any case',
      'POST /x HTTP/1.1\nhOsT:  API.Example.com:8080 \n\nbody',
      { kind: 'host', host: 'api.example.com', port: 8080 },
    ],
    [
      'absolute-form target wins',
      'GET http://a.example/x HTTP/1.1\nHost: b.example\n\n',
      { kind: 'host', host: 'a.example' },
    ],
    [
      'HTTP/1.0 with a trailing-dot host',
      'GET / HTTP/1.0\nHost: example.com.\n\n',
      { kind: 'host', host: 'example.com' },
    ],
    ['head not finished', 'GET / HTTP/1.1\nHost: a.example\n', { kind: 'more' }],
    ['no Host', 'GET / HTTP/1.1\nAccept: */*\n\n', { kind: 'none', reason: 'no Host header' }],
    [
      'two Hosts',
      'GET / HTTP/1.1\nHost: a.example\nHost: b.example\n\n',
      { kind: 'none', reason: 'more than one Host header' },
    ],
    ['not a host name', 'GET / HTTP/1.1\nHost: a b\n\n', { kind: 'none', reason: '"a b" is not a host name' }],
    ['IPv6 literal', 'GET / HTTP/1.1\nHost: [::1]:80\n\n', { kind: 'none', reason: '"[::1]:80" is not a host name' }],
    [
      'port out of range',
      'GET / HTTP/1.1\nHost: a.example:70000\n\n',
      { kind: 'none', reason: '"a.example:70000" has no valid port' },
    ],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\n\nSM\n\n', { kind: 'none', reason: 'not an HTTP/1 request' }],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => expect(requestHost(head(text))).to.deep.equal(expected));
  }

  it('refuses a head larger than MAX_HEAD_BYTES instead of waiting for more', () => {
    const big = Buffer.concat([head('GET / HTTP/1.1\nX-Pad: '), Buffer.alloc(MAX_HEAD_BYTES, 'a')]);
    expect(requestHost(big)).to.deep.equal({ kind: 'none', reason: 'the request head is too large' });
  });
});
