// A failure on a connection to the next process, restated when that process no longer accepts connections
// (hops/logic/dead-next.ts). Table-driven, no sockets.
import { expect } from 'chai';
import { blameDeadNext } from '../../../../hops/logic/dead-next';
import type { Failure } from '../../../../hops/logic/failure';

const NEXT = { hop: 2, name: 'tinyproxy' };
const broke: Failure = {
  status: 502,
  error: 'hop_failed',
  message: 'hop 2 (tinyproxy) broke the connection (ECONNRESET)',
  hop: 2,
  hop_name: 'tinyproxy',
};

describe('dead-next: a reset from a next process that has died', () => {
  it('restates a broken connection as hop_unavailable when the hop refuses new ones', () => {
    const failure = blameDeadNext(broke, 'ECONNRESET', NEXT, false)!;
    expect(failure).to.deep.include({ status: 502, error: 'hop_unavailable', hop: 2, hop_name: 'tinyproxy' });
    expect(failure.message).to.match(/^hop 2 \(tinyproxy\) is not accepting connections/);
  });

  it('leaves it as it is while the hop still accepts connections', () => {
    expect(blameDeadNext(broke, 'ECONNRESET', NEXT, true)).to.equal(undefined);
  });

  it('leaves a hop_failed that was no cut connection alone (a CA it cannot read, a refused CONNECT)', () => {
    expect(blameDeadNext(broke, 'MOAT_NEXT_CA_UNREADABLE', NEXT, false)).to.equal(undefined);
    expect(blameDeadNext(broke, 'MOAT_CONNECT_REFUSED', NEXT, false)).to.equal(undefined);
  });

  it('leaves other failures and failures of other hops alone', () => {
    expect(blameDeadNext({ ...broke, error: 'hop_timeout', status: 504 }, 'ECONNRESET', NEXT, false)).to.equal(
      undefined,
    );
    expect(blameDeadNext({ ...broke, hop: 3, hop_name: 'moat-policy' }, 'EPIPE', NEXT, false)).to.equal(undefined);
  });
});
