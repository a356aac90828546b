// WebSockets through a real chain (issue 21): built-in hops, mitmproxy (intercepts TLS and passes the upgrade) and
// tinyproxy (tunnels the TLS the link opens), started by `moat chain up`. The fake provider's echo endpoint answers;
// the test's own client (test/helpers/ws-client.ts) speaks RFC 6455 through ingress. Echo of every kind of frame,
// the frames in events at every boundary, tap, moat-policy's DLP close (1008), handshakes refused before any upgrade
// (a rule, egress.allow) and a third-party hop that cannot carry WebSockets named in the error.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ECHO_PATH } from '../fixtures/fake-websocket';
import { chainFixture } from '../helpers/chain-fixture';
import { egressTo, type CliChain } from '../helpers/cli-chain';
import { randomChars, URLSAFE } from '../helpers/fake-secrets';
import { REPO_ROOT } from '../helpers/repo-root';
import { connectWebSocket, WebSocketRefused, type WsClient } from '../helpers/ws-client';

const ECHO = 'echo.example.com';
const STAND_INS = join(REPO_ROOT, 'test', 'fixtures', 'stand-ins', 'bin');

/** A WebSocket to wss://host/path through the chain's ingress, with its token, trusting the Moat CA. */
async function open(chain: CliChain, path: string, host = ECHO): Promise<WsClient> {
  const status = await chain.status();
  const ingress = status.find((r) => r.role === 'ingress');
  return connectWebSocket({
    url: `wss://${host}${path}`,
    proxy: { port: ingress.port, auth: `moat:${readFileSync(chain.layout.tokenFile, 'utf8').trim()}` },
    ca: readFileSync(chain.layout.caCertFile),
  });
}

/** The handshake's refusal (WebSocketRefused), or a failure of the test when it was upgraded. */
async function refusal(chain: CliChain, path: string, host = ECHO): Promise<WebSocketRefused> {
  try {
    const ws = await open(chain, path, host);
    ws.abort();
  } catch (err) {
    if (err instanceof WebSocketRefused) return err;
    throw err;
  }
  throw new Error(`the handshake to ${host}${path} was upgraded`);
}

describe('WebSockets through built-in hops, mitmproxy and tinyproxy', function () {
  this.timeout(180_000);
  const { chain, provider } = chainFixture({
    config: (provider) => `proxies: [moat-telemetry, mitmproxy, tinyproxy, moat-policy]
capture:
  bodies: redacted
policy:
  rules:
    - id: no-admin-socket
      match: "${ECHO}/ws/admin*"
      action: deny
      reason: the admin socket is not for agents
${egressTo(provider.port, [ECHO])}
`,
  });

  // The trace of the echo test's connection, for the tests that read its events.
  let echoTrace = '';

  it('echoes text, binary, a fragmented message and a ping through every hop, and closes cleanly', async () => {
    const ws = await open(chain, `${ECHO_PATH}?t=echo`);
    ws.sendText('hello through five processes');
    expect((await ws.next()).text).to.equal('hello through five processes');
    ws.sendBinary(Buffer.from([0, 1, 2, 250, 251, 252]));
    const binary = await ws.next();
    expect(binary.type).to.equal('binary');
    expect([...binary.data]).to.deep.equal([0, 1, 2, 250, 251, 252]);
    ws.sendFragments('text', [Buffer.from('frag'), Buffer.from('mented')]);
    expect((await ws.next()).text).to.equal('fragmented');
    const big = 'x'.repeat(300_000);
    ws.sendText(big);
    expect((await ws.next()).text).to.equal(big);
    // The pong comes back before the echo of what follows the ping.
    ws.ping(Buffer.from('p1'));
    ws.sendText('after the ping');
    expect((await ws.next()).text).to.equal('after the ping');
    const closed = await ws.close(1000, 'done');
    expect(closed).to.deep.include({ code: 1000, reason: 'done', frame: true });
    expect(ws.pongs.map((p) => p.toString())).to.deep.equal(['p1']);
    // The provider saw the handshake as one, the extensions offer never, and the client's frames as sent.
    const handshake = provider.ws.handshakes.find((h) => h.path === `${ECHO_PATH}?t=echo`)!;
    expect(handshake.status).to.equal(101);
    expect(handshake.headers['sec-websocket-extensions']).to.equal(undefined);
    expect(Object.keys(handshake.headers).filter((h) => h.startsWith('x-moat-'))).to.deep.equal([]);
    echoTrace = String(handshake.headers.traceparent).split('-')[1];
  });

  it('records the frames both ways and the close at every boundary (events), and tap shows them per hop', async () => {
    // Every boundary's close (its response event) is stored after its frames: wait for the five closes.
    await chain.ledgerEvents((e) => e.trace === echoTrace && e.direction === 'response', 5);
    const events = await chain.ledgerEvents((e) => e.trace === echoTrace, 0);
    const byBoundary = (b: number, d: string) => events.filter((e) => e.boundary === b && e.direction === d);
    for (const b of [0, 1, 2, 3, 4]) {
      const frames = byBoundary(b, 'frames').flatMap((e) => e.frames!);
      const texts = frames.filter((f) => f.op === 'text').map((f) => `${f.from}:${f.text}`);
      expect(texts, `boundary ${b}`).to.include.members([
        'client:hello through five processes',
        'server:hello through five processes',
      ]);
      // The big message: its size listed, its text cut at capture.max_body_bytes.
      const big = frames.find((f) => f.from === 'client' && f.size === 300_000)!;
      expect(big.text_truncated, `boundary ${b}`).to.equal(true);
      expect(frames.filter((f) => f.op === 'continuation').length, `boundary ${b}`).to.equal(1);
      const [close] = byBoundary(b, 'response');
      expect(close.status, `boundary ${b}`).to.equal(101);
      expect(close.websocket, `boundary ${b}`).to.deep.include({ closed_by: 'client', close_code: 1000 });
      expect(close.websocket!.bytes_up, `boundary ${b}`).to.be.greaterThan(300_000);
      expect(close.websocket!.frames_up, `boundary ${b}`).to.equal(8);
    }
    const tap = await chain.cli(['tap', '2', '--history', '1', '--count', '1']);
    expect(tap.code, tap.stderr).to.equal(0);
    expect(tap.stdout).to.contain('hello through five processes');
    expect(tap.stdout).to.match(/websocket closed by client/);
  });

  it('moat-policy closes a connection whose client sends a secret (1008): the secret reaches no server and no event', async () => {
    const secret = `sk-ant-api03-${randomChars(URLSAFE, 93)}AA`;
    const ws = await open(chain, `${ECHO_PATH}?t=dlp`);
    ws.sendText('first, nothing secret');
    expect((await ws.next()).text).to.equal('first, nothing secret');
    // Split over two fragments: held until the last one is read, so no part of it leaves moat-policy.
    ws.sendFragments('text', [Buffer.from(`my key is ${secret.slice(0, 40)}`), Buffer.from(secret.slice(40))]);
    const closed = await ws.closed;
    expect(closed.code).to.equal(1008);
    expect(closed.reason).to.contain('dlp_blocked');
    const seen = JSON.stringify(provider.ws.messages);
    expect(seen).to.contain('first, nothing secret');
    expect(seen).to.not.contain(secret.slice(0, 40));
    expect(seen).to.not.contain(secret.slice(40));
    const handshake = provider.ws.handshakes.find((h) => h.path === `${ECHO_PATH}?t=dlp`)!;
    const trace = String(handshake.headers.traceparent).split('-')[1];
    await chain.ledgerEvents((e) => e.trace === trace && e.direction === 'response', 5);
    const events = await chain.ledgerEvents((e) => e.trace === trace, 0);
    const policyClose = events.find((e) => e.boundary === 3 && e.direction === 'response')!;
    expect(policyClose).to.deep.include({ error: 'dlp_blocked', decision: 'deny', rule: 'dlp' });
    expect(policyClose.websocket).to.deep.include({ closed_by: 'moat', close_code: 1008 });
    const ledger = JSON.stringify(await chain.ledgerEvents(() => true, 0));
    expect(ledger).to.not.contain(secret.slice(0, 40));
    expect(ledger).to.not.contain(secret.slice(40));
    const logs = await chain.cli(['logs', '4', '--lines', '200']);
    expect(logs.stdout + logs.stderr).to.match(/moat-policy close 1008 rule=dlp/);
    // A finding for security tooling, naming the detector, never the secret.
    const findings = await chain.cli(['findings', '--json']);
    expect(findings.code, findings.stderr).to.equal(0);
    const found = JSON.parse(findings.stdout).filter((f: any) => f.trace === trace);
    expect(found.map((f: any) => f.code)).to.include('dlp_blocked');
    expect(findings.stdout).to.contain('anthropic_key');
    expect(findings.stdout).to.not.contain(secret.slice(0, 40));
  });

  it('a rule that denies the handshake answers it 403 with the JSON error before any upgrade', async () => {
    const refused = await refusal(chain, '/ws/admin');
    expect(refused.status).to.equal(403);
    expect(refused.headers['x-moat-error']).to.equal('policy_denied');
    expect(JSON.parse(refused.body)).to.deep.include({ error: 'policy_denied', rule: 'no-admin-socket' });
    expect(provider.ws.handshakes.filter((h) => h.path.startsWith('/ws/admin'))).to.deep.equal([]);
  });

  it('egress.allow refuses a handshake to a host it does not name, before any upgrade', async () => {
    const refused = await refusal(chain, ECHO_PATH, 'elsewhere.example.com');
    expect(refused.status).to.equal(403);
    expect(JSON.parse(refused.body)).to.deep.include({ error: 'egress_denied' });
    expect(provider.ws.handshakes.filter((h) => h.host === 'elsewhere.example.com')).to.deep.equal([]);
  });
});

describe('WebSockets: a third-party hop that cannot carry them is named', function () {
  this.timeout(180_000);
  // seifghazi's claude-code-proxy (a STAND-IN: the Go module cannot be built here) routes only POST /v1/messages and
  // GET /v1/models, and copies only the headers it knows: it answers a handshake to another path itself, and passes
  // one to /v1/models on as a plain GET.
  const { chain, provider } = chainFixture({
    env: { PATH: `${STAND_INS}:${process.env.PATH}` },
    config: (provider) => `proxies: [seifghazi/claude-code-proxy, moat-policy]
${egressTo(provider.port, ['api.anthropic.com'])}
`,
  });

  it('a handshake the hop answers itself: websocket_unsupported with its status, naming it', async () => {
    const refused = await refusal(chain, '/v1/messages', 'api.anthropic.com');
    expect(refused.status).to.equal(502);
    const body = JSON.parse(refused.body);
    expect(body).to.deep.include({
      error: 'websocket_unsupported',
      hop: 1,
      hop_name: 'seifghazi/claude-code-proxy',
      hop_status: 404,
    });
    expect(body.message).to.match(/^hop 1 \(seifghazi\/claude-code-proxy\) answered the WebSocket handshake itself/);
  });

  it('a handshake the hop passes on as a plain GET: websocket_unsupported naming it', async () => {
    const refused = await refusal(chain, '/v1/models', 'api.anthropic.com');
    expect(refused.status).to.equal(502);
    expect(JSON.parse(refused.body)).to.deep.include({ error: 'websocket_unsupported', hop: 1 });
    expect(provider.ws.handshakes).to.deep.equal([]);
  });
});
