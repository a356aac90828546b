// A request's own address on the dashboard, /trace/<id>, attacked as an agent (or a page it opens in the user's
// browser) would: without the dashboard's token it gets 401 and no page, like every other address; a crafted id
// (markup, `..`, an encoded slash, a very long one) is refused with a fixed message, never served or echoed, so the
// address cannot carry script into the page nor reach anything but the page. The real server and page, on 127.0.0.1
// port 0, over made-up sources (no chain needed).
import { expect } from 'chai';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createDashboardServer } from '../../supervisor/dashboard/server';
import { RequestBook } from '../../supervisor/dashboard/request-book';
import { LiveHub } from '../../supervisor/dashboard/sse';
import { DASHBOARD_PAGE_FILE } from '../../supervisor/paths';

const TOKEN = 'c'.repeat(64);
const TRACE = '0123456789abcdef0123456789abcdef';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('security: a request’s own dashboard address (/trace/<id>)', () => {
  let server: http.Server;
  let port = 0;
  const live = new LiveHub();
  const auth = () => ({ authorization: `Bearer ${TOKEN}` });

  before(async () => {
    server = createDashboardServer({
      token: TOKEN,
      page: readFileSync(DASHBOARD_PAGE_FILE, 'utf8'),
      sources: {
        chain: async () => {
          throw new Error('not asked in this test');
        },
        book: new RequestBook([{ hop: 1, name: 'egress' }]),
        ledgerEvents: async () => [],
        verify: async () => {
          throw new Error('not asked in this test');
        },
      },
      live,
      log: () => undefined,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('with the token, serves the page (its own CSP, no framing) for a trace id', async () => {
    const page = await get(port, `/trace/${TRACE}`, auth());
    expect(page.status).to.equal(200);
    expect(page.headers['content-type']).to.contain('text/html');
    expect(page.headers['content-security-policy']).to.match(/script-src 'nonce-[^']+'/);
    expect(page.headers['x-frame-options']).to.equal('DENY');
    expect(page.body).to.contain('id="trace"');
    // The token in the address becomes the page's cookie, as at /.
    const withQuery = await get(port, `/trace/${TRACE}?token=${TOKEN}`);
    expect(withQuery.status).to.equal(200);
    expect(String(withQuery.headers['set-cookie'])).to.match(/^moat_dashboard_\d+=c{64}; Path=\/; HttpOnly/);
  });

  it('without the right token: 401 and no page, whichever way the token is missing or wrong', async () => {
    const wrong: Record<string, string>[] = [
      {},
      { authorization: 'Bearer nope' },
      { cookie: `moat_dashboard_${port}=nope` },
    ];
    for (const headers of wrong) {
      for (const path of [`/trace/${TRACE}`, `/trace/${TRACE}?token=${'0'.repeat(64)}`, '/trace/%3Cscript%3E']) {
        const res = await get(port, path, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).to.equal(401);
        expect(res.body).to.not.contain('<script').and.not.contain('id="trace"');
      }
    }
  });

  it('a crafted id is refused with a fixed message: never served, never echoed', async () => {
    const crafted = [
      '/trace/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      '/trace/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E',
      '/trace/..%2F..%2Fetc%2Fpasswd',
      '/trace/%2e%2e%2f_%2fapi%2fverify',
      '/trace/a%00b',
      '/trace/a.b',
      "/trace/'%22",
      '/trace/',
      `/trace/${'a'.repeat(129)}`,
    ];
    for (const path of crafted) {
      const res = await get(port, path, auth());
      expect(res.status, path).to.equal(400);
      expect(res.headers['content-type'], path).to.contain('application/json');
      expect(JSON.parse(res.body), path).to.deep.equal({
        error: 'bad_request',
        message: 'not a trace id (letters, digits, - and _)',
      });
    }
    // A path below /trace/<id> is no page either; `..` segments are resolved before routing, so they reach / at most.
    expect((await get(port, `/trace/${TRACE}/x`, auth())).status).to.equal(404);
    const dotted = await get(port, '/trace/../_/api/nothing', auth());
    expect(dotted.status).to.equal(404);
    expect(dotted.body).to.not.contain('<html');
  });
});
