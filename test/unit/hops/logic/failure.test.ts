// What the agent is told when the next process cannot be reached: the error names the hop, and says whether it is
// not taking connections (down, or stopped with its socket's backlog full) or broke one.
import { expect } from 'chai';
import { describeFailure } from '../../../../hops/logic/failure';
import type { NextHop } from '../../../../hops/spec';

const next: NextHop = { port: 1, hop: 2, name: 'moat-policy', moat: true, socket: 'moat-link-x' };
const failing = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('failures reaching the next hop', () => {
  it('a refused connection, on a port or on a socket whose backlog is full, is hop_unavailable naming the hop', () => {
    for (const code of ['ECONNREFUSED', 'EAGAIN']) {
      const f = describeFailure(failing(code), false, next, 'api.anthropic.com');
      expect(f, code).to.deep.include({ status: 502, error: 'hop_unavailable', hop: 2, hop_name: 'moat-policy' });
      expect(f.message, code).to.equal(`hop 2 (moat-policy) is not accepting connections (${code})`);
    }
  });

  it('a connection cut is hop_failed naming the hop', () => {
    const f = describeFailure(failing('ECONNRESET'), false, next, 'api.anthropic.com');
    expect(f).to.deep.include({ status: 502, error: 'hop_failed', hop: 2 });
    expect(f.message).to.equal('hop 2 (moat-policy) broke the connection (ECONNRESET)');
  });
});
