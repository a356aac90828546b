import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { BodyTap, EMPTY_SHA256 } from '../../../../hops/events/body-tap';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('BodyTap', () => {
  it('gives the SHA-256 of no bytes for a body that never came, or came as empty chunks', () => {
    expect(EMPTY_SHA256).to.equal(sha(Buffer.alloc(0)));
    const tap = new BodyTap(100);
    tap.push(Buffer.alloc(0));
    expect(tap.sha256()).to.equal(EMPTY_SHA256);
    expect(tap.size).to.equal(0);
  });

  it('hashes every byte, also past the copy it keeps, and can be asked again as the body grows', () => {
    const tap = new BodyTap(4);
    tap.push(Buffer.from('hello '));
    expect(tap.sha256()).to.equal(sha(Buffer.from('hello ')));
    tap.push(Buffer.from('world'));
    expect(tap.sha256()).to.equal(sha(Buffer.from('hello world')));
    expect(tap.text()).to.equal('hell');
    expect(tap.truncated).to.equal(true);
    expect(tap.size).to.equal(11);
  });

  it('only counts bytes when events are not recorded', () => {
    const tap = new BodyTap(0, false);
    tap.push(Buffer.from('abc'));
    expect(tap.sha256()).to.equal('');
    expect(tap.size).to.equal(3);
  });
});
