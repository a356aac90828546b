// The dashboard's token check and JSON API, over made-up sources: no sockets.
import { expect } from 'chai';
import type { MoatEvent } from '../../../../schemas/generated/event';
import {
  authorized,
  cookieName,
  loopbackHost,
  presentedTokens,
  tokenMatches,
} from '../../../../supervisor/dashboard/auth';
import { answerApi, parseFilter, type DashboardSources } from '../../../../supervisor/dashboard/api';
import { RequestBook } from '../../../../supervisor/dashboard/request-book';
import { sseMessage } from '../../../../supervisor/dashboard/sse';
import { dashboardUrl } from '../../../../supervisor/dashboard/spec';
import type { EventQuery } from '../../../../supervisor/dashboard/ledger-reader';

const TOKEN = 'a'.repeat(64);
const req = (path: string, extra: { authorization?: string; cookie?: string } = {}) => ({
  url: new URL(path, 'http://127.0.0.1'),
  ...extra,
});

describe('dashboard: token and API (no sockets)', () => {
  it('takes the token from ?token=, Authorization: Bearer or its port’s cookie, and nothing else', () => {
    expect(authorized(req(`/?token=${TOKEN}`), 8000, TOKEN)).to.equal(true);
    expect(authorized(req('/', { authorization: `Bearer ${TOKEN}` }), 8000, TOKEN)).to.equal(true);
    expect(authorized(req('/', { cookie: `other=1; ${cookieName(8000)}=${TOKEN}` }), 8000, TOKEN)).to.equal(true);
    // Another chain's dashboard on another port has another cookie.
    expect(authorized(req('/', { cookie: `${cookieName(8001)}=${TOKEN}` }), 8000, TOKEN)).to.equal(false);
    expect(authorized(req('/'), 8000, TOKEN)).to.equal(false);
    expect(authorized(req('/?token=wrong'), 8000, TOKEN)).to.equal(false);
    expect(authorized(req('/', { authorization: `Basic ${TOKEN}` }), 8000, TOKEN)).to.equal(false);
    expect(authorized(req(`/?token=${TOKEN.slice(1)}`), 8000, TOKEN)).to.equal(false);
    // One wrong token beside the right one does not lock the page out.
    expect(authorized(req(`/?token=old`, { cookie: `${cookieName(8000)}=${TOKEN}` }), 8000, TOKEN)).to.equal(true);
    expect(
      presentedTokens(req('/?token=q', { authorization: 'bearer b', cookie: `${cookieName(1)}=c` }), 1),
    ).to.deep.equal(['q', 'b', 'c']);
  });

  it('compares tokens whole, and never accepts an empty expected token', () => {
    expect(tokenMatches(TOKEN, TOKEN)).to.equal(true);
    expect(tokenMatches(TOKEN + 'x', TOKEN)).to.equal(false);
    expect(tokenMatches('', '')).to.equal(false);
  });

  it('serves loopback host names only (DNS rebinding), and prints the address with its token', () => {
    expect(loopbackHost('127.0.0.1:8000', 8000)).to.equal(true);
    expect(loopbackHost('localhost:8000', 8000)).to.equal(true);
    expect(loopbackHost('evil.example:8000', 8000)).to.equal(false);
    expect(loopbackHost('127.0.0.1:8001', 8000)).to.equal(false);
    expect(loopbackHost(undefined, 8000)).to.equal(false);
    expect(dashboardUrl(8000, 'tok')).to.equal('http://127.0.0.1:8000/?token=tok');
  });

  it('SSE messages are one event line and one data line', () => {
    expect(sseMessage('request', { a: 'x\ny' })).to.equal('event: request\ndata: {"a":"x\\ny"}\n\n');
  });

  describe('routes', () => {
    const ev = (
      trace: string,
      hop: number,
      direction: 'request' | 'response',
      extra: Partial<MoatEvent> = {},
    ): MoatEvent => ({
      id: `${trace}-${hop}-${direction}`,
      chain: 'c',
      trace,
      hop,
      hop_name: hop === 1 ? 'rewriter' : 'egress',
      boundary: hop - 1,
      direction,
      time: '2026-01-01T00:00:00.000Z',
      method: 'GET',
      host: 'api.anthropic.com',
      path: '/v1/models',
      headers: {},
      ...extra,
    });
    const stored = [ev('t1', 1, 'request'), ev('t1', 2, 'request', { headers: { 'x-added': '1' } })];
    const queries: [EventQuery, number][] = [];
    const book = new RequestBook([
      { hop: 1, name: 'rewriter' },
      { hop: 2, name: 'egress' },
    ]);
    // The responses are only in memory: not yet in the ledger.
    book.add(ev('t1', 2, 'response', { status: 200, elapsed_ms: 5 }));
    book.add(ev('t1', 1, 'response', { status: 200, elapsed_ms: 7 }));
    const src: DashboardSources = {
      book,
      chain: async () => ({ chain: 'c', config_file: '/x/moat.yaml', processes: [], pm2: true }),
      ledgerEvents: async (q, limit) => {
        queries.push([q, limit]);
        return stored.filter((e) => !q.trace || e.trace === q.trace);
      },
      verify: async () => ({ ok: true, rows: 2, text: 'ledger.db: ok, 2 rows', checked_at: 'now' }),
    };
    const get = (path: string) => {
      const url = new URL(path, 'http://127.0.0.1');
      return answerApi(url.pathname, url.searchParams, src);
    };

    it('chain, stats, verify and requests answer JSON', async () => {
      expect((await get('/_/api/chain'))!.body).to.deep.include({ chain: 'c', pm2: true });
      expect((await get('/_/api/verify'))!.body).to.deep.include({ ok: true, rows: 2 });
      const stats = (await get('/_/api/stats'))!.body as any;
      expect(stats.hops.map((h: any) => h.hop)).to.deep.equal([1, 2]);
      const requests = (await get('/_/api/requests?hop=2'))!.body as any;
      expect(requests.requests.map((r: any) => r.trace)).to.deep.equal(['t1']);
    });

    it('events pass their filters and limit to the ledger, capped at 1000', async () => {
      queries.length = 0;
      await get('/_/api/events?host=api.anthropic.com&hop=2&decision=deny&limit=20');
      await get('/_/api/events?limit=999999');
      await get('/_/api/events');
      expect(queries).to.deep.equal([
        [{ host: 'api.anthropic.com', hop: 2, decision: 'deny', trace: undefined }, 20],
        [{ trace: undefined }, 1000],
        [{ trace: undefined }, 100],
      ]);
    });

    it("a trace joins the ledger's events with those still on their way to it", async () => {
      const answer = (await get('/_/api/trace/t1'))!;
      expect(answer.status).to.equal(200);
      const view = answer.body as any;
      expect(view.boundaries.map((b: any) => [b.boundary, !!b.request, b.response?.status])).to.deep.equal([
        [0, true, 200],
        [1, true, 200],
      ]);
      expect(view.hops[0].request_headers).to.deep.equal([{ name: 'x-added', change: 'added', after: '1' }]);
      expect(view.hops[0].record.latencyMs).to.equal(2);
      // The responses are not in the ledger yet.
      expect(view.complete).to.equal(false);
    });

    it('answers 404 for an unknown trace, 400 for bad parameters, and nothing for other paths', async () => {
      expect((await get('/_/api/trace/nope'))!.status).to.equal(404);
      expect((await get('/_/api/trace/a%2Fb'))!.status).to.equal(400);
      expect((await get('/_/api/events?hop=x'))!.status).to.equal(400);
      expect((await get('/_/api/events?limit=0'))!.status).to.equal(400);
      expect((await get('/_/api/events?trace=../x'))!.status).to.equal(400);
      expect(await get('/_/api/nothing')).to.equal(undefined);
      expect(await get('/elsewhere')).to.equal(undefined);
      expect(() => parseFilter(new URLSearchParams('hop=-1'))).to.throw('hop must be a hop number');
    });
  });
});
