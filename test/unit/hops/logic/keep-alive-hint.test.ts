import { expect } from 'chai';
import { keptAliveMs } from '../../../../hops/logic/keep-alive-hint';

describe("keep-alive hint: how long a connection idles, given the server's Keep-Alive header", () => {
  it('no hint, or one without a timeout: our own idle time', () => {
    expect(keptAliveMs(undefined, 30_000)).to.equal(30_000);
    expect(keptAliveMs('max=100', 30_000)).to.equal(30_000);
  });

  it('a shorter hint: one second less than it, so our next request never meets a closing connection', () => {
    expect(keptAliveMs('timeout=5', 30_000)).to.equal(4000);
    expect(keptAliveMs('timeout=5, max=1000', 30_000)).to.equal(4000);
    expect(keptAliveMs(['timeout=3', 'timeout=9'], 30_000)).to.equal(2000);
  });

  it('a hint that leaves no time: not kept at all', () => {
    expect(keptAliveMs('timeout=1', 30_000)).to.equal(0);
    expect(keptAliveMs('timeout=0', 30_000)).to.equal(0);
  });

  it('a longer hint does not keep a connection past our own idle time', () => {
    expect(keptAliveMs('timeout=600', 30_000)).to.equal(30_000);
  });

  it('read as Node reads it: lower case and first, else no hint', () => {
    expect(keptAliveMs('Timeout=5', 30_000)).to.equal(30_000);
    expect(keptAliveMs('max=5, timeout=5', 30_000)).to.equal(30_000);
  });
});
