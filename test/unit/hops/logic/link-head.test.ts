import { expect } from 'chai';
import { framingOf, LinkHeadError, requestHead } from '../../../../hops/logic/link-head';

describe('link head: the request head a Moat process writes for the next one', () => {
  it('frames a body as its headers say, and as Node does when they say nothing', () => {
    expect(framingOf('POST', { 'content-length': '12' }, true)).to.deep.equal({ kind: 'length', length: 12 });
    expect(framingOf('GET', { 'transfer-encoding': 'chunked' }, false)).to.deep.equal({ kind: 'chunked' });
    expect(framingOf('POST', {}, true)).to.deep.equal({ kind: 'chunked' });
    expect(framingOf('POST', {}, false)).to.deep.equal({ kind: 'length', length: 0 });
    expect(framingOf('GET', {}, false)).to.deep.equal({ kind: 'none' });
    expect(framingOf('DELETE', {}, true)).to.deep.equal({ kind: 'chunked' });
  });

  it('refuses a content-length that is not a length', () => {
    for (const bad of ['-1', '1.5', 'ten', '1e400'])
      expect(() => framingOf('POST', { 'content-length': bad }, true)).to.throw(LinkHeadError, 'content-length');
  });

  it('writes the request line, the headers in order, keep-alive and its own framing', () => {
    const head = requestHead(
      'POST',
      'https://api.anthropic.com/v1/messages',
      { host: 'api.anthropic.com', 'x-many': ['a', 'b'], 'transfer-encoding': 'gzip', 'content-length': '3' },
      { kind: 'length', length: 3 },
      '127.0.0.1:1',
    );
    // The caller's content-length where the caller put it, its transfer-encoding (not the framing used) dropped.
    expect(head).to.equal(
      'POST https://api.anthropic.com/v1/messages HTTP/1.1\r\n' +
        'host: api.anthropic.com\r\nx-many: a\r\nx-many: b\r\ncontent-length: 3\r\n' +
        'Connection: keep-alive\r\n\r\n',
    );
    // A framing the caller did not state comes last, as Node's client adds it.
    expect(requestHead('POST', '/', { host: 'h' }, { kind: 'length', length: 0 }, 'x')).to.equal(
      'POST / HTTP/1.1\r\nhost: h\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n',
    );
    // No Host of its own: the address it is sent to, as Node's client says.
    expect(requestHead('GET', '/', { connection: 'close' }, { kind: 'none' }, '127.0.0.1:9')).to.equal(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nconnection: close\r\n\r\n',
    );
    expect(requestHead('PUT', '/x', { host: 'h' }, { kind: 'chunked' }, 'x')).to.match(
      /^PUT \/x HTTP\/1.1\r\nhost: h\r\n.*transfer-encoding: chunked\r\n\r\n$/s,
    );
  });

  it('keeps Latin-1 text and tabs in values, as Node sends them', () => {
    expect(requestHead('GET', '/caf\u00e9', { 'x-v': 'a\tb \u00ff' }, { kind: 'none' }, 'x')).to.contain(
      'x-v: a\tb \u00ff\r\n',
    );
  });
});
