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

  describe('requests alike overtaking one another inside the hop', () => {
    const models = { method: 'GET', host: 'h', path: '/v1/models' };

    it('the last one to arrive still finds an entry: one claim each, no trace split', () => {
      const registry = new InflightRegistry();
      const leaveA = registry.add(req('tA', 'GET', 'h', '/v1/models'));
      const leaveB = registry.add(req('tB', 'GET', 'h', '/v1/models'));
      // B comes out of the hop first and takes the oldest entry, A's; its answer passes back through the link.
      expect(registry.claim(models)).to.equal('tA');
      leaveB(true);
      // Before, B's own entry went with it and A found nothing (a new trace: 9 traces for 8 requests).
      expect(registry.claim(models)).to.equal('tB');
      leaveA(true);
      expect(registry.size).to.equal(0);
    });

    it('eight alike in any order: every arrival claims a different trace, and nothing is left', () => {
      for (let seed = 1; seed <= 50; seed++) {
        const registry = new InflightRegistry();
        const leave = Array.from({ length: 8 }, (_, i) => registry.add(req(`t${i}`, 'GET', 'h', '/v1/models')));
        // A pseudo-random interleaving: each request arrives after the hop, then (later) leaves through the link.
        // mulberry32: a small seeded generator, so a failing interleaving can be replayed.
        let x = seed;
        const rand = (n: number) => {
          x = (x + 0x6d2b79f5) | 0;
          let t = Math.imul(x ^ (x >>> 15), 1 | x);
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
          return ((t ^ (t >>> 14)) >>> 0) % n;
        };
        const waiting = [0, 1, 2, 3, 4, 5, 6, 7];
        const arrived: number[] = [];
        const claimed: (string | undefined)[] = [];
        while (waiting.length || arrived.length) {
          if (waiting.length && (!arrived.length || rand(2) === 0)) {
            arrived.push(waiting.splice(rand(waiting.length), 1)[0]);
            claimed.push(registry.claim(models));
          } else {
            leave[arrived.splice(rand(arrived.length), 1)[0]](true);
          }
        }
        expect(new Set(claimed).size, `seed ${seed}: ${claimed.join(' ')}`).to.equal(8);
        expect(claimed, `seed ${seed}`).to.not.include(undefined);
        expect(registry.size, `seed ${seed}`).to.equal(0);
      }
    });

    it('a departure told twice counts once, also after its entry changed hands', () => {
      const registry = new InflightRegistry();
      const leaveA = registry.add(req('tA', 'GET', 'h', '/v1/models'));
      const leaveB = registry.add(req('tB', 'GET', 'h', '/v1/models'));
      expect(registry.claim(models)).to.equal('tA');
      leaveB(true);
      leaveB(true);
      expect(registry.claim(models)).to.equal('tB');
      leaveA(true);
      leaveA(true);
      expect(registry.size).to.equal(0);
    });

    it('a request the hop answered itself takes only its own entry, claimed or not', () => {
      const registry = new InflightRegistry();
      const leaveA = registry.add(req('tA', 'GET', 'h', '/v1/models'));
      registry.add(req('tB', 'GET', 'h', '/v1/models'));
      expect(registry.claim(models)).to.equal('tA');
      // C, alike, never reached the process after the hop (no claim mark): its own entry goes, not A's claimed one.
      const leaveC = registry.add(req('tC', 'GET', 'h', '/v1/models'));
      leaveC(false);
      expect(registry.size).to.equal(2);
      expect(registry.claim(models)).to.equal('tB');
      // Had A's entry gone in C's place, C's trace would be handed to a request that is not C.
      expect(registry.claim(models)).to.equal(undefined);
      leaveA(false);
      expect(registry.size).to.equal(1);
    });
  });
});
