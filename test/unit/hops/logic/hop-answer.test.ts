// Who made an error answer that reached the link in front of a third-party hop (hops/logic/hop-answer.ts): the hop
// itself (a 5xx without the mark of the Moat process after it), or the chain after it; and what the agent is told
// instead of the hop's page. Table-driven, no sockets.
import { expect } from 'chai';
import {
  answerText,
  blameBeyond,
  HOP_ANSWER_CHARS,
  hopAnswerFailure,
  madeByHop,
  VIA_HEADER,
  withSentence,
} from '../../../../hops/logic/hop-answer';
import { NO_WAY_ROUND } from '../../../../hops/logic/agent-hint';
import type { Failure } from '../../../../hops/logic/failure';

const HOP = { hop: 1, name: 'mitmproxy' };
const BEYOND = { hop: 2, name: 'moat-telemetry' };

describe('hop-answer: who made an error answer behind a third-party hop', () => {
  const cases: [string, number, Record<string, string>, boolean][] = [
    ["mitmproxy's HTML 502, no mark", 502, { 'content-type': 'text/html' }, true],
    ["tinyproxy's 503, no mark", 503, {}, true],
    ['a 500 without the mark', 500, {}, true],
    ['a 599 without the mark', 599, {}, true],
    ["the provider's 503, marked by the process after the hop", 503, { [VIA_HEADER]: '2' }, false],
    ['moat JSON from further on, marked', 502, { [VIA_HEADER]: '2', 'x-moat-error': 'hop_unavailable' }, false],
    ['an x-moat-error without the mark (a Moat answer)', 502, { 'x-moat-error': 'hop_timeout' }, false],
    ["the mark of another hop's process: the hop's own", 502, { [VIA_HEADER]: '4' }, true],
    ['a mark spelt differently', 502, { [VIA_HEADER]: ' 2' }, true],
    ['a 404 without the mark passes', 404, {}, false],
    ['a 407 without the mark passes', 407, {}, false],
    ['a 200 without the mark passes', 200, {}, false],
  ];
  for (const [what, status, headers, made] of cases)
    it(`${what}: ${made ? "the hop's own" : 'passed on'}`, () => {
      expect(madeByHop(status, headers, BEYOND)).to.equal(made);
    });
});

describe('hop-answer: what the agent gets instead of the hop page', () => {
  const page =
    '<html><head><title>502 Bad Gateway</title><style>b{}</style></head><body><h1>502</h1>' +
    '<p>Connection refused &amp; more &lt;x&gt;</p></body></html>';

  it('the process after the hop does not answer its probe: it is named, hop_unavailable, the status kept', () => {
    const f = hopAnswerFailure(HOP, BEYOND, 502, page, 'down');
    expect(f).to.deep.include({
      status: 502,
      error: 'hop_unavailable',
      hop: 2,
      hop_name: 'moat-telemetry',
      hop_status: 502,
    });
    expect(f.message)
      .to.contain('hop 2 (moat-telemetry) is not accepting connections')
      .and.contain('hop 1 (mitmproxy) answered 502 for it')
      .and.contain(NO_WAY_ROUND);
    expect(f.hop_answer).to.equal('502 Bad Gateway 502 Connection refused & more <x>');
  });

  it('it hangs: hop_timeout naming it', () => {
    const f = hopAnswerFailure(HOP, BEYOND, 504, '', 'timeout');
    expect(f).to.deep.include({ status: 504, error: 'hop_timeout', hop: 2 });
    expect(f.message).to.contain('does not answer');
    expect(f).to.not.have.property('hop_answer');
  });

  it('it answers: the hop itself failed, hop_error with its status and text', () => {
    const f = hopAnswerFailure(HOP, BEYOND, 503, 'Unable to connect', 'ok');
    expect(f).to.deep.include({
      status: 503,
      error: 'hop_error',
      hop: 1,
      hop_name: 'mitmproxy',
      hop_status: 503,
      hop_answer: 'Unable to connect',
    });
    expect(f.message).to.contain('hop 1 (mitmproxy) answered 503 itself').and.contain(NO_WAY_ROUND);
  });

  it("the hop's text is one line of at most HOP_ANSWER_CHARS characters, without control characters", () => {
    const text = answerText(`a\u0000b\r\n${'x'.repeat(1000)}`);
    expect(text.length).to.equal(HOP_ANSWER_CHARS);
    expect(text).to.match(/^a b x+…$/);
    expect(answerText('<script>alert(1)</script>ok')).to.equal('ok');
  });
});

describe("hop-answer: a hop's failure while the process after it is down names that process", () => {
  const failed: Failure = {
    status: 502,
    error: 'hop_failed',
    message: 'hop 3 (tinyproxy) broke the connection (ECONNRESET)',
    hop: 3,
    hop_name: 'tinyproxy',
  };
  const timedOut: Failure = {
    ...failed,
    status: 504,
    error: 'hop_timeout',
    message: 'hop 3 (tinyproxy) did not answer in time',
  };
  const cases: [string, Failure, 'ok' | 'down' | 'timeout', string | undefined, number | undefined][] = [
    ['broke, beyond down', failed, 'down', 'hop_unavailable', 502],
    ['broke, beyond hangs', failed, 'timeout', 'hop_timeout', 504],
    ['broke, beyond answers: the hop stays named', failed, 'ok', undefined, undefined],
    ['timed out, beyond down', timedOut, 'down', 'hop_unavailable', 502],
    ['unavailable itself: stays', { ...failed, error: 'hop_unavailable' }, 'down', undefined, undefined],
  ];
  for (const [what, failure, probe, code, status] of cases)
    it(what, () => {
      const f = blameBeyond(failure, { hop: 4, name: 'moat-policy' }, probe);
      if (!code) return expect(f).to.equal(undefined);
      expect(f).to.deep.include({ error: code, status, hop: 4, hop_name: 'moat-policy' });
      expect(f!.message).to.contain('hop 4 (moat-policy)').and.contain(failure.message).and.contain(NO_WAY_ROUND);
    });

  it('withSentence adds the sentence to failures naming a hop only', () => {
    expect(withSentence(failed).message).to.contain(failed.message).and.contain(NO_WAY_ROUND);
    const noHop: Failure = { status: 502, error: 'upstream_unavailable', message: 'x' };
    expect(withSentence(noHop)).to.equal(noHop);
  });
});
