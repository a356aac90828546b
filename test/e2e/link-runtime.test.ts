// The link runtime on real sockets and real TLS, without pm2: ingress -> moat-telemetry ->
// moat-policy -> egress -> fake provider, all on 127.0.0.1 port 0.
import { expect } from 'chai';
import net from 'node:net';
import http from 'node:http';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { LINK_SERVERNAME } from '../../hops/runtime/forwarder';
import type { AddressInfo } from 'node:net';
import { FakeProvider, MODELS_BODY, PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { startInprocChain, type InprocChain } from '../helpers/inproc-chain';
import { proxyAgent, timedRequest } from '../helpers/proxy-client';
import { bytesPassed } from '../../hops/runtime/scavenge-hint';
import type { ProxyAgent } from 'undici';

function rawProxyRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (out.includes('\r\n\r\n')) s.destroy();
    });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

/** One request over TLS straight to a Moat process's port (link TLS), as the process before it sends. */
function tlsExchange(port: number, caFile: string, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: LINK_SERVERNAME, ca: readFileSync(caFile) }, () =>
      s.write(head),
    );
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('link runtime (in-process chain, real TLS at every boundary)', function () {
  let provider: FakeProvider;
  let plain: http.Server;
  let chain: InprocChain;
  let agent: ProxyAgent;

  before(async () => {
    provider = await new FakeProvider().start();
    plain = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () =>
        res.end(`plain ${req.method} ${req.url} host=${req.headers.host}${body ? ` body=${body}` : ''}`),
      );
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const plainPort = (plain.address() as AddressInfo).port;
    chain = await startInprocChain({
      hops: ['moat-telemetry', 'moat-policy'],
      rules: [{ match: '*.internal.example.com/*', action: 'deny', reason: 'internal APIs are off limits' }],
      egress: {
        allow: [
          'api.anthropic.com',
          'x.internal.example.com',
          'plain.example.com',
          'second.example.com',
          '2001:db8::1',
          '2001:db8::2',
        ],
        resolve: {
          'api.anthropic.com:443': `127.0.0.1:${provider.port}`,
          'x.internal.example.com:443': `127.0.0.1:${provider.port}`,
          'second.example.com:443': `127.0.0.1:${provider.port}`,
          '2001:db8::1': `127.0.0.1:${provider.port}`,
          '2001:db8::2': `127.0.0.1:${plainPort}`,
          'plain.example.com:80': `127.0.0.1:${plainPort}`,
        },
        extraCa: [PROVIDER_CA_FILE],
        timeoutMs: 500,
      },
    });
    agent = proxyAgent(chain.ingressPort, chain.token, chain.layout.caCertFile);
  });

  it('a body sent chunked reaches the server whole whatever the method (GET and DELETE bodies keep their framing)', async () => {
    const auth = `Proxy-Authorization: Basic ${Buffer.from(`moat:${chain.token}`).toString('base64')}\r\n`;
    for (const method of ['DELETE', 'GET', 'POST']) {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect(chain.ingressPort, '127.0.0.1', () =>
          s.write(
            `${method} http://plain.example.com/chunked HTTP/1.1\r\nHost: plain.example.com\r\n${auth}` +
              'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
          ),
        );
        let out = '';
        s.on('data', (d: Buffer) => (out += d.toString('latin1')));
        s.on('close', () => resolve(out));
        s.on('error', reject);
      });
      expect(reply, method).to.match(/^HTTP\/1\.1 200 /);
      expect(reply, method).to.contain(`plain ${method} /chunked host=plain.example.com body=hello world`);
    }
  });

  after(async () => {
    await agent?.close();
    await chain?.stop();
    await provider?.stop();
    plain?.close();
  });

  it('every link counts the body bytes it passes for the scavenge hint (hops/runtime/scavenge-hint.ts)', async () => {
    const n = 1_000_000;
    const before = bytesPassed.total;
    const res = await timedRequest(agent, `https://api.anthropic.com/bytes?n=${n}`);
    expect(res.status).to.equal(200);
    // Ingress, moat-telemetry, moat-policy and egress, all in this process: each passes the body once.
    expect(bytesPassed.total - before).to.be.at.least(4 * n);
  });

  it('answers 407 to CONNECT and to absolute-form requests without the chain token', async () => {
    const connect = await rawProxyRequest(
      chain.ingressPort,
      'CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n',
    );
    expect(connect).to.match(/^HTTP\/1\.1 407 /);
    const wrong = await rawProxyRequest(
      chain.ingressPort,
      `CONNECT api.anthropic.com:443 HTTP/1.1\r\nProxy-Authorization: Basic ` +
        `${Buffer.from('moat:nope').toString('base64')}\r\n\r\n`,
    );
    expect(wrong).to.match(/^HTTP\/1\.1 407 /);
    const plainReq = await rawProxyRequest(
      chain.ingressPort,
      'GET http://plain.example.com/ HTTP/1.1\r\nHost: plain.example.com\r\n\r\n',
    );
    expect(plainReq).to.match(/^HTTP\/1\.1 407 /);
    // Every link, not only ingress, wants the token.
    const inner = await rawProxyRequest(chain.links[1].port, 'CONNECT api.anthropic.com:443 HTTP/1.1\r\n\r\n');
    expect(inner).to.match(/^HTTP\/1\.1 407 /);
  });

  it("returns exactly the provider's bytes through four TLS boundaries", async () => {
    const res = await timedRequest(agent, 'https://api.anthropic.com/v1/models');
    expect(res.status).to.equal(200);
    expect(res.body).to.equal(MODELS_BODY);
    expect(res.headers['x-fake-provider']).to.equal('1');
  });

  it('adds a trace at ingress, strips x-moat-* and the proxy credentials at egress', async () => {
    const res = await timedRequest(agent, 'https://api.anthropic.com/echo', {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'x-moat-debug': 'yes', 'content-type': 'application/json' },
    });
    const seen = JSON.parse(res.body);
    expect(seen.body).to.equal('{"a":1}');
    expect(seen.headers.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(
      Object.keys(seen.headers).filter((h: string) => h.startsWith('x-moat-') || h.startsWith('proxy-')),
    ).to.deep.equal([]);
    expect(seen.headers.host).to.equal('api.anthropic.com');
  });

  it('a deny rule answers 403 with rule and reason, and the provider never sees the request', async () => {
    const before = provider.seen.length;
    const res = await timedRequest(agent, 'https://x.internal.example.com/v1/secret');
    expect(res.status).to.equal(403);
    const body = JSON.parse(res.body);
    expect(body).to.deep.include({ error: 'policy_denied', rule: 'rules[0]', reason: 'internal APIs are off limits' });
    // The sentence for the agent (hops/logic/agent-hint.ts): what, which rule, and that going round fails too.
    expect(body.message).to.match(/^moat denied GET x\.internal\.example\.com \(rule rules\[0\]: /);
    expect(body.message).to.contain('retrying without the proxy or by another route fails too');
    expect(provider.seen.slice(before).filter((r) => r.path === '/v1/secret')).to.deep.equal([]);
  });

  it('moat-telemetry writes one canonical line per request', async () => {
    await timedRequest(agent, 'https://api.anthropic.com/v1/models?key=sk-should-not-be-logged');
    const line = chain.logs.filter((l) => l.startsWith('moat-telemetry') && l.includes('path=/v1/models')).pop();
    expect(line).to.match(/status=200 req_bytes=0 res_bytes=\d+ ttfb_ms=[\d.]+ duration_ms=[\d.]+ error=-$/);
    expect(chain.logs.join('\n')).to.not.contain('sk-should-not-be-logged');
  });

  it('streams SSE: headers at once, each event as the provider sent it', async () => {
    // The provider writes its headers, then each event only after the client got the write before: a boundary that
    // held headers back until a body chunk, or an event until more data, would stall this request (a timeout), under
    // any load, where a test of the gaps between arrivals would depend on the machine's speed.
    const res = await timedRequest(agent, 'https://api.anthropic.com/sse?events=5&gate=1', {
      onProgress: () => provider.openGates(),
    });
    expect(res.status).to.equal(200);
    expect(res.body.match(/event: tick/g)).to.have.length(5);
    expect(res.chunks.map((c) => c.text.match(/event: tick/g)?.length)).to.deep.equal([1, 1, 1, 1, 1]);
  });

  it('carries plain http in absolute form to the destination', async () => {
    const res = await timedRequest(agent, 'http://plain.example.com/hello?x=1');
    expect(res.status).to.equal(200);
    expect(res.body).to.equal('plain GET /hello?x=1 host=plain.example.com');
  });

  it('keeps connections alive across boundaries', async () => {
    const egress = chain.links.find((l) => l.name === 'egress')!.server.server;
    const before = egress.acceptedConnections;
    for (let i = 0; i < 20; i++)
      expect((await timedRequest(agent, 'https://api.anthropic.com/v1/models')).status).to.equal(200);
    expect(egress.acceptedConnections - before).to.be.at.most(1);
  });

  it(
    'reaches each Moat process over link TLS: a new host ' + 'opens no connection and mints no leaf past ingress',
    async () => {
      expect((await timedRequest(agent, 'https://api.anthropic.com/v1/models')).status).to.equal(200);
      const behind = chain.links.filter((l) => l.name !== 'ingress');
      const before = behind.map((l) => l.server.server.acceptedConnections);
      const res = await timedRequest(agent, 'https://second.example.com/v1/models');
      expect(res.status).to.equal(200);
      expect(res.body).to.equal(MODELS_BODY);
      // Through CONNECT tunnels, each boundary would have opened a tunnel (a connection) for the new host.
      expect(behind.map((l) => l.server.server.acceptedConnections)).to.deep.equal(before);
      expect(provider.seen.at(-1)?.headers.host).to.equal('second.example.com');
    },
  );

  it('carries IPv6 destinations in brackets, over link TLS and in absolute-form http', async () => {
    const plainRes = await timedRequest(agent, 'http://[2001:db8::2]/v6');
    expect(plainRes.status, plainRes.body).to.equal(200);
    expect(plainRes.body).to.equal('plain GET /v6 host=[2001:db8::2]');
    // Over link TLS it reaches egress (unbracketed, hop 1 answered 400): the provider's certificate names no such
    // address.
    const tlsRes = await timedRequest(agent, 'https://[2001:db8::1]/v1/models');
    expect(tlsRes.status, tlsRes.body).to.equal(502);
    expect(JSON.parse(tlsRes.body).error).to.equal('upstream_tls');
  });

  it(
    'wants its own credential on every request over link TLS, ' + "in absolute form (the agent's token is refused)",
    async () => {
      const hop1 = chain.links[1].port;
      const ask = (head: string) => tlsExchange(hop1, chain.layout.caCertFile, head);
      expect(
        await ask(
          'GET https://api.anthropic.com/v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nConnection: close\r\n\r\n',
        ),
      ).to.match(/^HTTP\/1\.1 407 /);
      const agentAuth = `Proxy-Authorization: Basic ${Buffer.from(`moat:${chain.token}`).toString('base64')}\r\n`;
      expect(
        await ask(
          `GET https://api.anthropic.com/v1/models HTTP/1.1\r\nHost: ` +
            `api.anthropic.com\r\n${agentAuth}Connection: close\r\n\r\n`,
        ),
      ).to.match(/^HTTP\/1\.1 407 /);
      const credential = readFileSync(chain.layout.linkTokenFile(`1-${chain.links[1].name}`), 'utf8').trim();
      const auth = `Proxy-Authorization: Basic ${Buffer.from(`moat:${credential}`).toString('base64')}\r\n`;
      expect(
        await ask(`GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n${auth}Connection: close\r\n\r\n`),
      ).to.match(/^HTTP\/1\.1 400 /);
      const ok = await ask(
        `GET https://api.anthropic.com/v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n${auth}Connection: ` +
          `close\r\n\r\n`,
      );
      expect(ok).to.match(/^HTTP\/1\.1 200 /);
      // The token is spent at the boundary: the provider never sees Proxy-Authorization.
      expect(provider.seen.at(-1)?.headers).to.not.have.property('proxy-authorization');
    },
  );

  it('egress refuses hosts outside egress.allow with 403', async () => {
    const res = await timedRequest(agent, 'https://api.openai.com/v1/models');
    expect(res.status).to.equal(403);
    expect(JSON.parse(res.body).error).to.equal('egress_denied');
  });

  it('maps a destination that does not answer in time to 504', async () => {
    const res = await timedRequest(agent, 'https://api.anthropic.com/slow?ms=2000');
    expect(res.status).to.equal(504);
    expect(JSON.parse(res.body)).to.include({ error: 'upstream_timeout' });
  });

  it('fails closed with 502 naming the hop when a hop is down, never skipping it', async () => {
    const before = provider.seen.length;
    await chain.stopLink('moat-policy');
    const res = await timedRequest(agent, 'https://api.anthropic.com/v1/models');
    expect(res.status).to.equal(502);
    expect(JSON.parse(res.body)).to.deep.include({ error: 'hop_unavailable', hop: 2, hop_name: 'moat-policy' });
    expect(res.headers['x-moat-error']).to.equal('hop_unavailable');
    expect(provider.seen.length).to.equal(before);
  });
});

describe('egress certificate verification', () => {
  it('answers 502 upstream_tls when the destination is not signed by a trusted CA', async () => {
    const provider = await new FakeProvider().start();
    const chain = await startInprocChain({
      hops: [],
      egress: { allow: ['api.anthropic.com'], resolve: { 'api.anthropic.com:443': `127.0.0.1:${provider.port}` } },
    });
    const agent = proxyAgent(chain.ingressPort, chain.token, chain.layout.caCertFile);
    try {
      const res = await timedRequest(agent, 'https://api.anthropic.com/v1/models');
      expect(res.status).to.equal(502);
      expect(JSON.parse(res.body).error).to.equal('upstream_tls');
      expect(provider.seen).to.have.length(0);
    } finally {
      await agent.close();
      await chain.stop();
      await provider.stop();
    }
  });
});
