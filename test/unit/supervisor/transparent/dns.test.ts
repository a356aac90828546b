// The DNS answers of a transparent run: byte-exact for hand-built queries, and understood by a real
// resolver (Node's c-ares) asking a local UDP socket that answers with dnsResponse.
import { expect } from 'chai';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { dnsResponse, parseQuery, TYPE_A, TYPE_AAAA } from '../../../../supervisor/transparent/dns';

const OPTIONS = { address: '198.18.0.1', ttl: 60 };

/** A standard query: id, RD set, one question; `extra` appended (an EDNS OPT record, say) with ARCOUNT 1. */
function query(name: string, type: number, { id = 0x1234, extra }: { id?: number; extra?: Buffer } = {}): Buffer {
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, extra ? 1 : 0]);
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const tail = Buffer.from([0, type >> 8, type & 0xff, 0, 1]);
  return Buffer.concat([header, ...labels, tail, ...(extra ? [extra] : [])]);
}

describe('transparent: DNS answers', () => {
  it('answers an A question with the capture address, byte for byte', () => {
    const q = query('api.anthropic.com', TYPE_A);
    const question = q.subarray(12);
    expect(dnsResponse(q, OPTIONS)!.toString('hex')).to.equal(
      Buffer.concat([
        // id; QR AA RD RA, NOERROR; 1 question, 1 answer
        Buffer.from('1234' + '8580' + '0001' + '0001' + '0000' + '0000', 'hex'),
        question,
        // name at 12, A, IN, TTL 60, 198.18.0.1
        Buffer.from('c00c' + '0001' + '0001' + '0000003c' + '0004' + 'c6120001', 'hex'),
      ]).toString('hex'),
    );
  });

  it('answers AAAA and every other type with no records and NOERROR', () => {
    for (const type of [TYPE_AAAA, 15, 16, 65]) {
      const r = dnsResponse(query('api.anthropic.com', type), OPTIONS)!;
      expect(r.readUInt16BE(2) & 0x000f, `rcode for type ${type}`).to.equal(0);
      expect(r.readUInt16BE(6), `answers for type ${type}`).to.equal(0);
      expect(r.subarray(12)).to.deep.equal(query('api.anthropic.com', type).subarray(12));
    }
  });

  it('echoes the id and leaves the EDNS record of a query aside', () => {
    const opt = Buffer.from('0000291000000000000000', 'hex');
    const r = dnsResponse(query('x.test', TYPE_A, { id: 0xbeef, extra: opt }), OPTIONS)!;
    expect(r.readUInt16BE(0)).to.equal(0xbeef);
    expect(r.readUInt16BE(10)).to.equal(0);
    expect(r.subarray(r.length - 4)).to.deep.equal(Buffer.from([198, 18, 0, 1]));
  });

  it('parses the question', () => {
    expect(parseQuery(query('Mixed.Case.test', TYPE_A))).to.deep.include({
      id: 0x1234,
      rd: true,
      name: 'Mixed.Case.test',
      type: TYPE_A,
      class: 1,
    });
  });

  it('FORMERR for a malformed question, NOTIMP for another opcode, silence for responses and scraps', () => {
    const cut = query('api.anthropic.com', TYPE_A).subarray(0, 20);
    expect(dnsResponse(cut, OPTIONS)!.readUInt16BE(2) & 0xf).to.equal(1);
    const pointer = Buffer.concat([query('a.b', TYPE_A).subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    expect(dnsResponse(pointer, OPTIONS)!.readUInt16BE(2) & 0xf).to.equal(1);
    const notify = query('a.b', TYPE_A);
    notify[2] = 4 << 3; // opcode NOTIFY
    const r = dnsResponse(notify, OPTIONS)!;
    expect(r.readUInt16BE(2) & 0xf).to.equal(4);
    expect((r[2] >> 3) & 0xf).to.equal(4);
    expect(dnsResponse(dnsResponse(query('a.b', TYPE_A), OPTIONS)!, OPTIONS)).to.equal(undefined);
    expect(dnsResponse(Buffer.from([1, 2, 3]), OPTIONS)).to.equal(undefined);
  });

  describe('asked by a real resolver (c-ares) over UDP', () => {
    let socket: dgram.Socket;
    let resolver: Resolver;

    before(async () => {
      socket = dgram.createSocket('udp4');
      socket.on('message', (msg, from) => {
        const r = dnsResponse(msg, OPTIONS);
        if (r) socket.send(r, from.port, from.address);
      });
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${socket.address().port}`]);
    });

    after(() => socket.close());

    it('resolves any name to the capture address', async () => {
      expect(await resolver.resolve4('api.anthropic.com')).to.deep.equal(['198.18.0.1']);
      expect(await resolver.resolve4('no-such-name.invalid')).to.deep.equal(['198.18.0.1']);
      expect(await resolver.resolve4('api.anthropic.com', { ttl: true })).to.deep.equal([
        { address: '198.18.0.1', ttl: 60 },
      ]);
    });

    it('has no AAAA record for it (ENODATA)', async () => {
      const err = await resolver.resolve6('api.anthropic.com').catch((e: NodeJS.ErrnoException) => e);
      expect((err as NodeJS.ErrnoException).code).to.equal('ENODATA');
    });
  });
});
