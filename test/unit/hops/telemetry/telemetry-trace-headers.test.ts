import { expect } from 'chai';
import { telemetryLine, TELEMETRY_FIELDS } from '../../../../hops/telemetry/hop';
import { traceFor } from '../../../../hops/logic/trace';
import { endToEndHeaders } from '../../../../hops/logic/headers';

describe('moat-telemetry canonical line', () => {
  it('has every field in a stable order and never the query string', () => {
    const line = telemetryLine({
      request: {
        method: 'POST',
        scheme: 'https',
        host: 'api.anthropic.com',
        port: 443,
        path: '/v1/messages?key=sk-secret',
        headers: {},
        trace: 'abc',
      },
      status: 200,
      requestBytes: 10,
      responseBytes: 2048,
      ttfbMs: 1.234,
      durationMs: 5.5,
    });
    expect(line).to.equal(
      'moat-telemetry trace=abc method=POST scheme=https host=api.anthropic.com path=/v1/messages status=200 ' +
        'req_bytes=10 res_bytes=2048 ttfb_ms=1.23 duration_ms=5.50 error=-',
    );
    expect(
      line
        .split(' ')
        .slice(1)
        .map((kv) => kv.split('=')[0]),
    ).to.deep.equal([...TELEMETRY_FIELDS]);
  });
});

describe('trace ids', () => {
  it('mints a traceparent and x-moat-trace when the agent sent none', () => {
    const t = traceFor({});
    expect(t.trace).to.match(/^[0-9a-f]{32}$/);
    expect(t.set.traceparent).to.match(new RegExp(`^00-${t.trace}-[0-9a-f]{16}-01$`));
    expect(t.set['x-moat-trace']).to.equal(t.trace);
    expect(traceFor({}).trace).to.not.equal(t.trace);
  });
  it('never mints the same trace or span twice, across refills of the random pool (4 KiB: 170 traces each)', () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = traceFor({});
      traces.add(t.trace);
      spans.add(t.set.traceparent.split('-')[2]);
      expect(t.set.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    }
    expect(traces.size).to.equal(2000);
    expect(spans.size).to.equal(2000);
  });
  it("keeps the agent's own traceparent", () => {
    const t = traceFor({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(t.trace).to.equal('0af7651916cd43dd8448eb211c80319c');
    expect(t.set).to.not.have.property('traceparent');
  });
});

describe('hop-by-hop headers', () => {
  it('drops connection-specific headers, those named in Connection, and x-moat-* at egress', () => {
    const headers = {
      host: 'a',
      connection: 'keep-alive, x-custom-hop',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic x',
      'transfer-encoding': 'chunked',
      'x-custom-hop': '1',
      'x-moat-trace': 't',
      'content-type': 'application/json',
      te: 'trailers',
    };
    expect(endToEndHeaders(headers)).to.deep.equal({
      host: 'a',
      'x-moat-trace': 't',
      'content-type': 'application/json',
    });
    expect(endToEndHeaders(headers, true)).to.deep.equal({ host: 'a', 'content-type': 'application/json' });
  });
});
