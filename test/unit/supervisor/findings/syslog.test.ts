// RFC 5424 lines: PRI from facility and level, header fields printable ASCII, SD-PARAM values escaped (", \, ]), the
// finding's fields in structured data; UDP cut and TCP octet-counting frames.
import { expect } from 'chai';
import {
  facilityNumber,
  headerField,
  sdValue,
  syslogMessage,
  tcpFrame,
  udpDatagram,
  UDP_MAX_BYTES,
} from '../../../../supervisor/findings/syslog';
import type { Finding } from '../../../../supervisor/findings/finding';

const finding: Finding = {
  code: 'dlp_blocked',
  level: 'error',
  chain: 'c',
  trace: 'abc',
  event: 'e1',
  time: '2026-12-05T10:00:00.123Z',
  hop: 2,
  hop_name: 'moat-policy',
  rule: 'dlp',
  reason: 'request body contains github_token',
  detectors: ['github_token'],
  method: 'POST',
  url: 'https://api.example.com/v1/x',
  status: 403,
};

// RFC 5424 section 6 (ABNF), the parts moat writes.
const RFC5424 =
  /^<(\d{1,3})>1 (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) \[moat@32473( [^ =\]"]{1,32}="(?:[^"\\\]]|\\["\\\]])*")+\] (.*)$/;

describe('syslog (RFC 5424)', () => {
  it('a finding as one message: PRI, header, structured data, text', () => {
    const m = syslogMessage(finding, { hostname: 'box', procId: 42, facility: 16 });
    const parts = RFC5424.exec(m);
    expect(parts, m).not.to.equal(null);
    expect(parts![1]).to.equal(String(16 * 8 + 3));
    expect(m).to.match(
      /^<131>1 2026-12-05T10:00:00\.123Z box moat 42 dlp_blocked \[moat@32473 chain="c" code="dlp_blocked"/,
    );
    expect(m).to.include('detectors="github_token"');
    expect(m).to.include('url="https://api.example.com/v1/x"');
    expect(m).to.include('status="403"');
    expect(m.split('] ').pop()).to.include('dlp_blocked by rule dlp at hop 2 (moat-policy)');
  });

  it('levels and facilities into PRI', () => {
    const pri = (f: Partial<Finding>, facility: number) =>
      Number(/^<(\d+)>/.exec(syslogMessage({ ...finding, ...f }, { hostname: 'h', facility }))![1]);
    expect(pri({ level: 'warning' }, 16)).to.equal(132);
    expect(pri({ level: 'error' }, 4)).to.equal(35);
    expect(facilityNumber('local7')).to.equal(23);
    expect(facilityNumber('auth')).to.equal(4);
    expect(facilityNumber(undefined)).to.equal(16);
    expect(facilityNumber(1)).to.equal(1);
  });

  const escapes: [string, string][] = [
    ['plain', 'plain'],
    ['say "hi"', 'say \\"hi\\"'],
    ['back\\slash', 'back\\\\slash'],
    ['close ] bracket', 'close \\] bracket'],
    ['line\nbreak\r\x00', 'linebreak'],
    ['[open] is fine', '[open\\] is fine'],
  ];
  for (const [raw, want] of escapes)
    it(`SD-PARAM value ${JSON.stringify(raw)}`, () => expect(sdValue(raw)).to.equal(want));

  it('a reason with quotes, brackets and backslashes stays one parseable message', () => {
    const m = syslogMessage(
      { ...finding, reason: 'matched "evil"] [x="y" \\ end\nnext', rule: 'r]"' },
      { hostname: 'h o s t', facility: 16 },
    );
    expect(m).to.match(RFC5424);
    expect(m).not.to.include('\n');
    expect(m).to.include('reason="matched \\"evil\\"\\] [x=\\"y\\" \\\\ endnext"');
    expect(m).to.include(' host moat ');
  });

  it('header fields: printable ASCII, cut, - when empty', () => {
    expect(headerField('a b\u00e9c', 10)).to.equal('abc');
    expect(headerField('', 10)).to.equal('-');
    expect(headerField(undefined, 10)).to.equal('-');
    expect(headerField('x'.repeat(40), 32)).to.have.length(32);
  });

  it('UDP datagrams are cut at 8 KiB on a character boundary; TCP frames count octets', () => {
    const long = 'é'.repeat(UDP_MAX_BYTES);
    const d = udpDatagram(long);
    expect(d.length).to.be.at.most(UDP_MAX_BYTES);
    expect(d.toString('utf8')).not.to.include('\uFFFD');
    expect(udpDatagram('short').toString()).to.equal('short');
    expect(tcpFrame('héllo').toString()).to.equal('6 héllo');
  });
});
