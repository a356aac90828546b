import { expect } from 'chai';
import { replayDiff, replayRequest } from '../../../../supervisor/commands/replay';
import { MoatError } from '../../../../supervisor/errors';
import type { MoatEvent } from '../../../../schemas/generated/event';
import { fake } from '../../../helpers/fake-secrets';

const T = 'a'.repeat(32);
const event = (o: Partial<MoatEvent>): MoatEvent =>
  ({
    id: 'x',
    chain: 'c',
    trace: T,
    hop: 1,
    hop_name: 'h',
    boundary: 0,
    direction: 'request',
    time: '',
    ...o,
  }) as MoatEvent;
const request = event({
  method: 'POST',
  scheme: 'https',
  host: 'api.anthropic.com',
  port: 443,
  path: '/v1/messages',
  body_size: 11,
  body: '{"a":"[REDACTED:openai_key]"}',
  headers: {
    'content-type': 'application/json',
    'x-api-key': '[REDACTED]',
    'content-length': '11',
    'x-moat-trace': T,
    traceparent: `00-${T}-0000000000000001-01`,
    host: 'api.anthropic.com',
  },
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MoatError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('replay: rebuilding a recorded request and comparing answers (no sockets)', () => {
  it(
    'keeps method, destination, body and ordinary headers; drops credentials, length and trace headers, with ' +
      'warnings',
    () => {
      const r = replayRequest([request], T, 1);
      expect(r).to.deep.include({
        method: 'POST',
        scheme: 'https',
        host: 'api.anthropic.com',
        port: 443,
        path: '/v1/messages',
        body: '{"a":"[REDACTED:openai_key]"}',
      });
      expect(r.headers).to.deep.equal({ 'content-type': 'application/json' });
      expect(r.warnings.join('\n')).to.contain('not replayed: x-api-key').and.contain('secrets masked');
    },
  );

  it('refuses bodies that were not recorded or were cut, and traces or hops without a request', () => {
    expect(codeOf(() => replayRequest([{ ...request, body: undefined }], T, 1))).to.equal('MOAT_ERR_REPLAY_NO_BODY');
    expect(codeOf(() => replayRequest([{ ...request, body_truncated: true }], T, 1))).to.equal(
      'MOAT_ERR_REPLAY_NO_BODY',
    );
    expect(codeOf(() => replayRequest([], T, 1))).to.equal('MOAT_ERR_TRACE_NOT_FOUND');
    expect(codeOf(() => replayRequest([request], T, 3))).to.equal('MOAT_ERR_TRACE_NOT_FOUND');
    expect(replayRequest([{ ...request, body: undefined, body_size: 0 }], T, 1).body).to.equal('');
  });

  it('the diff masks secrets in the new body before comparing, and names header changes', () => {
    const recorded = event({
      direction: 'response',
      status: 200,
      headers: { 'content-type': 'application/json', 'x-old': '1' },
      body: '{"ok":true}',
    });
    const key = fake.anthropicKey();
    const d = replayDiff([request, recorded], 1, {
      status: 403,
      headers: { 'content-type': 'application/json', 'x-new': '2' },
      body: JSON.stringify({ ok: false, leaked: key }),
    });
    expect(d.status).to.deep.equal({ recorded: 200, replayed: 403 });
    expect(d.headers).to.deep.equal({ added: ['x-new'], removed: ['x-old'], changed: [] });
    expect(d.body.join('\n')).to.contain('ok: true -> false').and.contain('+leaked').and.not.contain(key);
  });
});
