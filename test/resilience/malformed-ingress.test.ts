// Malformed input to ingress, generated from a seed (MOAT_RESILIENCE_SEED to replay another): no
// process may crash or restart, every answer is a sensible status or a closed connection, and ingress
// holds no more sockets or file descriptors afterwards than before. Slowloris clients, in the open and
// inside TLS tunnels, are closed by ingress's headers timeout.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import type tls from 'node:tls';
import type { ProxyAgent } from 'undici';
import { PROVIDER_CA_FILE } from '../fixtures/fake-provider';
import { chainFixture } from '../helpers/chain-fixture';
import { send } from './helpers/load';
import { describeFds, fdCount } from './helpers/procfs';
import { collect, connectPlain, openTlsTunnel, openTunnel, rawExchange, type RawReply } from '../helpers/raw-client';
import { malformedCases, type Answer, type MalformedCase } from './helpers/malformed-cases';
import { HEADERS_TIMEOUT_MS } from '../../hops/runtime/link-server';

const SEED = Number(process.env.MOAT_RESILIENCE_SEED ?? 0x5eed);
const BATCH = 10;
// Ingress may hold a few more sockets to hop 1 in its keep-alive pool than at the baseline.
const FD_SLACK = 4;
const SLOW_PLAIN = 100;
const SLOW_TLS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function answerOf(reply: RawReply): Answer | 'still open' {
  if (reply.status !== undefined) return reply.status;
  return reply.closed ? 'closed' : 'still open';
}

describe(`resilience: malformed input to ingress (seed ${SEED})`, function () {
  this.timeout(180_000);
  let agent: ProxyAgent;
  let ingress: { pid: number; port: number };
  let auth = '';
  let ca = '';
  let rowsBefore: any[] = [];
  let fdBefore = 0;
  let fdsAtStart: string[] = [];
  const figures: string[] = [];

  // Plain http:// requests go to port 80: the bare host maps every port to the fake provider.
  const { chain } = chainFixture({
    name: 'malformed',
    config: (provider) => `name: malformed
proxies: [moat-telemetry, moat-policy]
egress:
  allow: [api.anthropic.com]
  resolve:
    "api.anthropic.com:443": "127.0.0.1:${provider.port}"
    "api.anthropic.com": "127.0.0.1:${provider.port}"
  extra_ca: ["${PROVIDER_CA_FILE}"]
`,
    beforeCleanup: () => agent?.close(),
  });

  before(async () => {
    rowsBefore = await chain.status();
    ingress = rowsBefore.find((r) => r.name === 'ingress');
    auth = `Basic ${Buffer.from(`moat:${readFileSync(chain.layout.tokenFile, 'utf8').trim()}`).toString('base64')}`;
    ca = readFileSync(chain.layout.caCertFile, 'utf8');
    agent = await chain.agent();
    // One request first, so what ingress opens once (its pool towards hop 1, a leaf) is in the baseline.
    expect((await send(agent, 'https://api.anthropic.com/v1/models')).status).to.equal(200);
    await sleep(500);
    fdBefore = fdCount(ingress.pid);
    fdsAtStart = describeFds(ingress.pid);
  });

  after(() => console.log(figures.map((f) => `      ${f}`).join('\n')));

  /** Every process still has its pid and no restart. */
  async function expectNoCrash(): Promise<void> {
    const now = await chain.status();
    expect(now.map((r) => [r.name, r.pid, r.restarts])).to.deep.equal(rowsBefore.map((r) => [r.name, r.pid, 0]));
  }

  /** Ingress's descriptors back to the baseline (polled: closing takes a moment). */
  async function fdsSettle(): Promise<number> {
    let n = fdCount(ingress.pid);
    for (let i = 0; i < 50 && n > fdBefore + FD_SLACK; i++) {
      await sleep(100);
      n = fdCount(ingress.pid);
    }
    return n;
  }

  async function run(c: MalformedCase): Promise<RawReply> {
    if (c.via === 'plain') return rawExchange(ingress.port, c.payload);
    const socket: net.Socket | tls.TLSSocket =
      c.via === 'tunnel' ? await openTunnel(ingress.port, auth) : await openTlsTunnel(ingress.port, auth, ca);
    const reply = collect(socket, 3000);
    socket.write(c.payload, () => undefined);
    return reply;
  }

  it('every malformed request gets a sensible status or a closed connection, and nothing crashes', async () => {
    const cases = malformedCases(SEED, auth);
    const results: { c: MalformedCase; answer: Answer | 'still open' }[] = [];
    for (let i = 0; i < cases.length; i += BATCH) {
      const batch = cases.slice(i, i + BATCH);
      const replies = await Promise.all(batch.map(run));
      batch.forEach((c, j) => results.push({ c, answer: answerOf(replies[j]) }));
    }
    // The answers by group, for docs/resilience.md.
    const byGroup = new Map<string, Map<string, number>>();
    for (const { c, answer } of results) {
      const counts = byGroup.get(c.group) ?? byGroup.set(c.group, new Map()).get(c.group)!;
      counts.set(String(answer), (counts.get(String(answer)) ?? 0) + 1);
    }
    for (const [group, counts] of byGroup)
      figures.push(`${group}: ${[...counts].map(([a, n]) => `${a} x${n}`).join(', ')}`);
    const wrong = results
      .filter(({ c, answer }) => !c.allowed.includes(answer as Answer))
      .map(({ c, answer }) => `${c.group} ${c.name} via ${c.via}: ${answer} (allowed ${c.allowed.join('/')})`);
    expect(wrong, `seed ${SEED}`).to.deep.equal([]);

    await expectNoCrash();
    expect((await send(agent, 'https://api.anthropic.com/v1/models')).status, 'the chain still serves').to.equal(200);
    const fdAfter = await fdsSettle();
    figures.push(`${cases.length} malformed requests: ingress fds ${fdBefore} before, ${fdAfter} after`);
    expect(fdAfter, `before:\n${fdsAtStart.join('\n')}\nafter:\n${describeFds(ingress.pid).join('\n')}`).to.be.at.most(
      fdBefore + FD_SLACK,
    );
  });

  it(
    `slowloris (${SLOW_PLAIN} plain + ${SLOW_TLS} in TLS tunnels, 1 byte / 100 ms): closed by the headers ` +
      `timeout, descriptors back`,
    async () => {
      const trickle = (socket: net.Socket | tls.TLSSocket) => {
        const text =
          `GET http://api.anthropic.com/v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nX-Slow: ` +
          `${'s'.repeat(1000)}`;
        let i = 0;
        const timer = setInterval(
          () => (socket.destroyed ? clearInterval(timer) : socket.write(text[i++ % text.length])),
          100,
        );
        socket.once('close', () => clearInterval(timer));
      };
      const started = performance.now();
      const sockets: (net.Socket | tls.TLSSocket)[] = [];
      for (let i = 0; i < SLOW_PLAIN; i++) sockets.push(await connectPlain(ingress.port));
      for (let i = 0; i < SLOW_TLS; i++) sockets.push(await openTlsTunnel(ingress.port, auth, ca));
      const closedAt: number[] = [];
      const replies = sockets.map((s) =>
        collect(s, HEADERS_TIMEOUT_MS + 10_000).then((r) => (closedAt.push(performance.now() - started), r)),
      );
      sockets.forEach(trickle);

      await sleep(2000);
      const fdDuring = fdCount(ingress.pid);
      const during = await send(agent, 'https://api.anthropic.com/v1/models');
      expect(during.status, 'the chain serves while slowloris clients hold sockets').to.equal(200);

      const answers = (await Promise.all(replies)).map(answerOf);
      const fdAfter = await fdsSettle();
      const counts = new Map<string, number>();
      for (const a of answers) counts.set(String(a), (counts.get(String(a)) ?? 0) + 1);
      figures.push(
        `slowloris: ingress fds ${fdBefore} before, ${fdDuring} with ${sockets.length} slow clients, ` +
          `${fdAfter} after; closed ` +
          `${(Math.min(...closedAt) / 1000).toFixed(1)}-${(Math.max(...closedAt) / 1000).toFixed(1)} s after ` +
          `they connected (${[...counts].map(([a, n]) => `${a} x${n}`).join(', ')}); a normal request meanwhile ` +
          `took ${(during.endedAt - during.startedAt).toFixed(0)} ms`,
      );

      expect(fdDuring).to.be.at.least(fdBefore + sockets.length);
      expect(
        answers.filter((a) => a !== 408 && a !== 'closed'),
        'answers other than 408 or a close',
      ).to.deep.equal([]);
      expect(Math.max(...closedAt), 'ms until the last slow client was closed').to.be.below(HEADERS_TIMEOUT_MS + 5000);
      expect(
        fdAfter,
        `before:\n${fdsAtStart.join('\n')}\nafter:\n${describeFds(ingress.pid).join('\n')}`,
      ).to.be.at.most(fdBefore + FD_SLACK);
      await expectNoCrash();
    },
  );
});
