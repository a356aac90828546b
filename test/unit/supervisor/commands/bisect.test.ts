// bisect: a replay without a hop changes the outcome when its status, error or a body field differs from the
// baseline's; fields that vary anyway (ids) do not count.
import { expect } from 'chai';
import {
  culprits,
  formatBisect,
  noisyFields,
  outcomeChange,
  responseError,
} from '../../../../supervisor/commands/bisect';
import type { ReplayedResponse } from '../../../../supervisor/commands/replay';

const r = (status: number, body: unknown, headers: Record<string, string> = {}): ReplayedResponse => ({
  status,
  headers,
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('bisect: what counts as a changed outcome', () => {
  const base = r(200, { id: 'msg_1', model: 'm', rewritten: true });
  const rows: [string, ReplayedResponse, string[], boolean][] = [
    ['the same response', r(200, { id: 'msg_1', model: 'm', rewritten: true }), [], false],
    ['a field gone', r(200, { id: 'msg_1', model: 'm' }), [], true],
    ['only the noisy id differs', r(200, { id: 'msg_2', model: 'm', rewritten: true }), ['id'], false],
    ['the id differs and is not known noisy', r(200, { id: 'msg_2', model: 'm', rewritten: true }), [], true],
    ['another status', r(400, { id: 'msg_1', model: 'm', rewritten: true }), [], true],
    ['an error', r(200, { id: 'msg_1', model: 'm', rewritten: true }, { 'x-moat-error': 'hop_timeout' }), [], true],
  ];
  for (const [what, replayed, noisy, changed] of rows)
    it(`${what}: ${changed ? 'changed' : 'same'}`, () =>
      expect(outcomeChange(base, replayed, new Set(noisy)) !== undefined).to.equal(changed));

  it('reads errors from moat, from a string error and from a provider error object', () => {
    expect(responseError(r(403, {}, { 'x-moat-error': 'policy_denied' }))).to.equal('policy_denied');
    expect(responseError(r(403, { error: 'dlp_blocked' }))).to.equal('dlp_blocked');
    expect(responseError(r(400, { error: { type: 'invalid_request_error' } }))).to.equal('invalid_request_error');
    expect(responseError(r(400, { error: { message: 'body is not JSON' } }))).to.equal('body is not JSON');
    expect(responseError(r(200, 'not json'))).to.equal(undefined);
  });

  it('noise: the fields that differ between the recorded response and the baseline', () => {
    expect([...noisyFields(JSON.stringify({ id: 'a', x: 1 }), r(200, { id: 'b', x: 1 }))]).to.deep.equal(['id']);
    expect(noisyFields(undefined, base).size).to.equal(0);
  });

  it('names the hop whose absence changes the outcome, and policy hops as not skippable', () => {
    const hops = [
      { hop: 1, name: 'moat-telemetry', skippable: true as const, skipped: true, replay_trace: 'r1' },
      {
        hop: 2,
        name: 'rewriter',
        skippable: true as const,
        skipped: true,
        replay_trace: 'r2',
        change: { body: ['-rewritten'] },
      },
      {
        hop: 3,
        name: 'moat-policy',
        skippable: false as const,
        policy: true,
        reason: 'hop 3 (moat-policy) is a policy hop',
      },
    ];
    expect(culprits(hops)).to.deep.equal([2]);
    const text = formatBisect({ trace: 't', baseline: { replay_trace: 'r0', status: 200 }, hops, culprits: [2] });
    expect(text).to.contain('hop 1 (moat-telemetry): without it the outcome is the same');
    expect(text).to.contain('hop 2 (rewriter): without it the outcome changes: body -rewritten');
    expect(text).to.contain('hop 3 (moat-policy): not skippable: hop 3 (moat-policy) is a policy hop');
    expect(text).to.contain('the outcome depends on hop 2 (rewriter)');
  });
});
