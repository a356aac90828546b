// The DER a leaf is written in (hops/tls/der.ts): encodings checked against values worked out by hand from X.690.
import { expect } from 'chai';
import {
  certificateTime,
  children,
  objectId,
  positiveInteger,
  readValue,
  sequence,
  tlv,
} from '../../../../hops/tls/der';
import { ipv6Bytes } from '../../../../hops/tls/leaf-certificate';

const hex = (b: Buffer) => b.toString('hex');

describe('DER for leaves', () => {
  it('writes lengths short below 128 and long from there, in the fewest bytes', () => {
    expect(hex(tlv(0x04, Buffer.alloc(127)).subarray(0, 2))).to.equal('047f');
    expect(hex(tlv(0x04, Buffer.alloc(128)).subarray(0, 3))).to.equal('048180');
    expect(hex(tlv(0x04, Buffer.alloc(255)).subarray(0, 3))).to.equal('0481ff');
    expect(hex(tlv(0x04, Buffer.alloc(256)).subarray(0, 4))).to.equal('04820100');
    expect(hex(tlv(0x04, Buffer.alloc(70000)).subarray(0, 5))).to.equal('0483011170');
    expect(hex(sequence())).to.equal('3000');
  });

  it('writes object identifiers: the first two arcs joined, the others base 128', () => {
    expect(hex(objectId('2.5.4.3'))).to.equal('0603550403');
    expect(hex(objectId('2.5.29.17'))).to.equal('0603551d11');
    expect(hex(objectId('1.2.840.113549.1.1.11'))).to.equal('06092a864886f70d01010b');
    expect(hex(objectId('1.3.6.1.5.5.7.3.1'))).to.equal('06082b06010505070301');
  });

  it('writes a positive integer in the fewest bytes: no leading zero, one added before a high bit', () => {
    expect(hex(positiveInteger(Buffer.from('00007f', 'hex')))).to.equal('02017f');
    expect(hex(positiveInteger(Buffer.from('0080', 'hex')))).to.equal('02020080');
    expect(hex(positiveInteger(Buffer.from('ff01', 'hex')))).to.equal('020300ff01');
    expect(hex(positiveInteger(Buffer.from('0000', 'hex')))).to.equal('020100');
  });

  it('writes times as UTCTime through 2049 and GeneralizedTime from 2050', () => {
    expect(certificateTime(new Date('2026-12-07T18:05:09.999Z')).toString('latin1')).to.equal('\x17\x0d261207180509Z');
    expect(certificateTime(new Date('2049-12-31T23:59:59Z')).toString('latin1')).to.equal('\x17\x0d491231235959Z');
    expect(certificateTime(new Date('2050-01-01T00:00:00Z')).toString('latin1')).to.equal('\x18\x0f20500101000000Z');
  });

  it('reads back what it wrote, and refuses a length that runs past the end', () => {
    const der = sequence(tlv(0x02, Buffer.from([1])), tlv(0x04, Buffer.alloc(200)));
    const [a, b] = children(der, readValue(der, 0));
    expect([a.tag, a.end - a.contents, b.tag, b.end - b.contents]).to.deep.equal([0x02, 1, 0x04, 200]);
    expect(() => readValue(Buffer.from('0405aabb', 'hex'), 0)).to.throw('past the end');
    expect(() => readValue(Buffer.from('04', 'hex'), 0)).to.throw('past the end');
    expect(() => readValue(Buffer.from('0482ff', 'hex'), 0)).to.throw('past the end'); // its length cut short
    const outgrown = Buffer.from('30030405aabbccddeeff', 'hex'); // a child longer than its parent
    expect(() => children(outgrown, readValue(outgrown, 0))).to.throw('past the end');
  });

  it('reads IPv6 addresses as 16 bytes, :: and a dotted IPv4 tail included', () => {
    expect(hex(ipv6Bytes('::1'))).to.equal('00000000000000000000000000000001');
    expect(hex(ipv6Bytes('::'))).to.equal('00000000000000000000000000000000');
    expect(hex(ipv6Bytes('2001:db8::8:800:200c:417a'))).to.equal('20010db8000000000008080020 0c417a'.replace(' ', ''));
    expect(hex(ipv6Bytes('fe80::'))).to.equal('fe800000000000000000000000000000');
    expect(hex(ipv6Bytes('::ffff:192.0.2.128'))).to.equal('00000000000000000000ffffc0000280');
    expect(hex(ipv6Bytes('1:2:3:4:5:6:7:8'))).to.equal('00010002000300040005000600070008');
  });
});
