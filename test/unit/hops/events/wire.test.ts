import { expect } from 'chai';
import { decodeEvents, encodeEvents, eventLines } from '../../../../hops/events/wire';

describe('events on the wire: bursts as newline-delimited JSON (no sockets)', () => {
  it('a burst decodes to its events, each with the exact text published (the ledger hashes that text)', () => {
    const texts = [JSON.stringify({ id: 'a', n: 1 }), JSON.stringify({ id: 'b', s: 'line\nbreak inside a string' })];
    const decoded = decodeEvents(encodeEvents(texts));
    expect(decoded.map((d) => d.text)).to.deep.equal(texts);
    expect(decoded.map((d) => d.value)).to.deep.equal([
      { id: 'a', n: 1 },
      { id: 'b', s: 'line\nbreak inside a string' },
    ]);
  });

  it('a message with one event (as other tools publish) reads the same way', () => {
    expect(decodeEvents(Buffer.from('{"id":"x"}'))).to.deep.equal([{ text: '{"id":"x"}', value: { id: 'x' } }]);
  });

  it('lines that are not JSON are dropped, the others kept; empty lines are none', () => {
    const data = Buffer.from('{"id":"a"}\nnot json\n\n  \n[1,2]\n{"id":"b"}\n');
    expect(eventLines(data)).to.have.length(4);
    expect(decodeEvents(data).map((d) => d.value)).to.deep.equal([{ id: 'a' }, [1, 2], { id: 'b' }]);
  });
});
