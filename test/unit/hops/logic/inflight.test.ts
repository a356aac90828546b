import { expect } from 'chai';
import { InflightRegistry, type InflightRequest } from '../../../../hops/logic/inflight';

const req = (trace: string, method: string, host: string, path: string): InflightRequest => ({
  trace,
  method,
  host,
  path,
});

describe('in-flight registry: matching a request that lost its trace (no sockets)', () => {
  // In the order they went into the hop.
  const inflight = [
    req('t1', 'POST', 'api.anthropic.com', '/v1/messages'),
    req('t2', 'GET', 'api.anthropic.com', '/v1/models?limit=5'),
    req('t3', 'POST', 'api.anthropic.com', '/v1/messages'),
    req('t4', 'GET', 'api.openai.com', '/v1/models'),
  ];
  const cases: [string, [string, string, string][], (string | undefined)[]][] = [
    [
      'same method, host and path: oldest first',
      [
        ['POST', 'api.anthropic.com', '/v1/messages'],
        ['POST', 'api.anthropic.com', '/v1/messages'],
      ],
      ['t1', 't3'],
    ],
    ['exact query wins over an older same-path request', [['GET', 'api.openai.com', '/v1/models']], ['t4']],
    ['path without the query when the host changed', [['GET', 'api.example.net', '/v1/models']], ['t2']],
    [
      'method only when host and path changed (a hop that converts the API)',
      [['POST', 'api.openai.com', '/v1/chat/completions']],
      ['t1'],
    ],
    ['nothing with that method', [['DELETE', 'api.anthropic.com', '/v1/messages']], [undefined]],
    [
      'each request is claimed once',
      [
        ['GET', 'x', '/a'],
        ['GET', 'x', '/b'],
        ['GET', 'x', '/c'],
      ],
      ['t2', 't4', undefined],
    ],
  ];
  for (const [name, queries, expected] of cases) {
    it(name, () => {
      const registry = new InflightRegistry();
      for (const r of inflight) registry.add(r);
      expect(queries.map(([method, host, path]) => registry.claim({ method, host, path }))).to.deep.equal(expected);
    });
  }

  it('forgets a request once its exchange is over', () => {
    const registry = new InflightRegistry();
    const done = registry.add(req('t1', 'GET', 'h', '/'));
    registry.add(req('t2', 'GET', 'h', '/'));
    done();
    expect(registry.size).to.equal(1);
    expect(registry.claim({ method: 'GET', host: 'h', path: '/' })).to.equal('t2');
  });
});
