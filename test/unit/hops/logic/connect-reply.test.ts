// The answer to a CONNECT, read as it arrives (hops/logic/connect-reply.ts): the one parser behind the three places
// that open tunnels through a proxy.
import { expect } from 'chai';
import {
  headFields,
  MAX_CONNECT_HEAD_BYTES,
  parseConnectHead,
  withField,
  withoutField,
} from '../../../../hops/logic/connect-reply';

describe('CONNECT answers', () => {
  it('waits for the blank line, then gives status, reason and where the tunnel bytes start', () => {
    expect(parseConnectHead(Buffer.from('HTTP/1.1 200 Connection Established\r\n'))).to.equal('incomplete');
    const got = Buffer.from('HTTP/1.1 200 Connection Established\r\nVia: tinyproxy\r\n\r\n\x16\x03\x01');
    const reply = parseConnectHead(got);
    expect(reply).to.deep.include({
      status: 200,
      reason: 'Connection Established',
      statusLine: 'HTTP/1.1 200 Connection Established',
      head: 'HTTP/1.1 200 Connection Established\r\nVia: tinyproxy',
    });
    expect(got.subarray((reply as { bodyStart: number }).bodyStart)).to.deep.equal(
      Buffer.from('\x16\x03\x01', 'latin1'),
    );
  });

  it('reads refusals with their headers, HTTP/1.0, and no reason phrase', () => {
    const refusal = parseConnectHead(Buffer.from('HTTP/1.0 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}'));
    expect(refusal).to.deep.include({
      status: 403,
      reason: 'Forbidden',
      head: 'HTTP/1.0 403 Forbidden\r\nContent-Length: 2',
      bodyStart: 45,
    });
    expect(parseConnectHead(Buffer.from('HTTP/1.1 407\r\n\r\n'))).to.deep.include({ status: 407, reason: '' });
  });

  it('gives status 0 for what is no HTTP/1.x status line, and gives up on a head past the bound', () => {
    expect(parseConnectHead(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n\r\n'))).to.deep.include({
      status: 0,
      reason: 'SSH-2.0-OpenSSH_9.6',
    });
    expect(parseConnectHead(Buffer.from('HTTP/2 200\r\n\r\n'))).to.deep.include({ status: 0 });
    expect(parseConnectHead(Buffer.alloc(MAX_CONNECT_HEAD_BYTES, 'a'))).to.equal('incomplete');
    expect(parseConnectHead(Buffer.alloc(MAX_CONNECT_HEAD_BYTES + 1, 'a'))).to.equal('too_large');
  });
});

describe("a refusal's header fields", () => {
  const refusal = Buffer.from(
    'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nX-Moat-Via: 2\r\nx-moat-via: 9\r\n' +
      'content-length: 3\r\n\r\n{}\n',
  );

  it('reads them in lower case, the first of repeated ones', () => {
    const head = parseConnectHead(refusal) as { head: string };
    expect(headFields(head.head)).to.deep.equal({
      'content-type': 'application/json',
      'x-moat-via': '2',
      'content-length': '3',
    });
  });

  it('drops every spelling of one field and keeps the rest, the body included', () => {
    expect(withoutField(refusal, 'x-moat-via').toString()).to.equal(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\ncontent-length: 3\r\n\r\n{}\n',
    );
    expect(withoutField(refusal, 'absent')).to.equal(refusal);
  });

  it('puts one field in place of every spelling it had, after the status line', () => {
    expect(withField(refusal, 'x-moat-via', '5').toString()).to.equal(
      'HTTP/1.1 403 Forbidden\r\nx-moat-via: 5\r\nContent-Type: application/json\r\ncontent-length: 3\r\n\r\n{}\n',
    );
  });
});
