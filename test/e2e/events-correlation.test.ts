// A hop that drops x-moat-trace and traceparent (as proxies that rebuild requests do): the
// process after it claims each request from the link in front of it, so every boundary of one
// request still shares one trace, marked `inferred` where it had to be matched.
import { expect } from 'chai';
import { join } from 'node:path';
import { egressTo } from '../helpers/cli-chain';
import { chainFixture } from '../helpers/chain-fixture';
import { timedRequest } from '../helpers/proxy-client';
import { Ledger } from '../../supervisor/ledger/ledger';
import type { MoatEvent } from '../../schemas/generated/event';
import { DIST_DIR } from '../helpers/repo-root';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');
// [moat-telemetry, dropper, moat-policy]: boundaries 0..3, a request and a response event at each.
const EVENTS_PER_REQUEST = 8;

describe('events: correlation across a hop that drops the trace headers', function () {
  this.timeout(120_000);
  const { chain, provider } = chainFixture({
    config: (provider) => `proxies:
  - moat-telemetry
  - name: dropper
    command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}", --drop-trace]
    trust_ca: "{dir}/ca/ca.crt"
  - moat-policy
${egressTo(provider.port)}
`,
  });

  async function send(paths: string[]): Promise<void> {
    const agent = await chain.agent();
    const statuses = await Promise.all(
      paths.map((p) => timedRequest(agent, `https://api.anthropic.com${p}`).then((r) => r.status)),
    );
    await agent.close();
    expect(statuses.every((s) => s === 200 || s === 404)).to.equal(true);
  }

  /** The ledger's events on these paths, once there are `count` of them (or after 30 s). */
  async function eventsOn(paths: string[], count: number): Promise<MoatEvent[]> {
    for (let i = 0; ; i++) {
      const ledger = await Ledger.open(chain.layout.ledgerFile, true);
      const events = (await ledger.rows())
        .map((r) => JSON.parse(r.event) as MoatEvent)
        .filter((e) => paths.includes(e.path ?? ''));
      await ledger.close();
      if (events.length >= count || i >= 300) return events;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('the hop really drops them: without correlation the boundary after it would have no trace', async () => {
    await send(['/echo']);
    const seen = provider.seen.pop()!;
    expect(seen.headers).to.not.have.property('traceparent');
    expect(seen.headers).to.have.property('x-rewritten-by', 'fixture');
  });

  it('concurrent requests to different paths: each keeps one trace across all four boundaries', async () => {
    const paths = Array.from({ length: 8 }, (_, i) => `/v1/models/m${i}`);
    await send(paths);
    const events = await eventsOn(paths, paths.length * EVENTS_PER_REQUEST);
    for (const path of paths) {
      const mine = events.filter((e) => e.path === path);
      expect(mine, path).to.have.length(EVENTS_PER_REQUEST);
      expect(new Set(mine.map((e) => e.trace)).size, `${path}: traces`).to.equal(1);
      const boundary2 = mine.filter((e) => e.boundary === 2);
      expect(boundary2.map((e) => e.correlation)).to.deep.equal(['inferred', 'inferred']);
      // The trace is restored after the hop, so the links behind it see it again.
      expect(mine.filter((e) => e.boundary !== 2).every((e) => e.correlation === 'exact')).to.equal(true);
    }
  });

  it('concurrent requests to the same path: every request is claimed exactly once', async () => {
    const paths = Array.from({ length: 8 }, () => '/v1/models');
    await send(paths);
    const events = await eventsOn(['/v1/models'], paths.length * EVENTS_PER_REQUEST);
    const byTrace = new Map<string, MoatEvent[]>();
    for (const e of events) byTrace.set(e.trace, [...(byTrace.get(e.trace) ?? []), e]);
    expect(byTrace.size).to.equal(paths.length);
    for (const [trace, mine] of byTrace) {
      expect(mine.map((e) => `${e.boundary}:${e.direction}`).sort(), trace).to.deep.equal([
        '0:request',
        '0:response',
        '1:request',
        '1:response',
        '2:request',
        '2:response',
        '3:request',
        '3:response',
      ]);
    }
    expect(events.some((e) => e.correlation === 'unmatched')).to.equal(false);
  });
});
