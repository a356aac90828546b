// The pure parts of hung-hop detection and of the body timeout: which target is blamed after which probe results,
// when it is killed again, when it counts as recovered; and the body deadline's arithmetic.
import { expect } from 'chai';
import {
  HEALTH_DEFAULTS,
  HopHealth,
  type HealthChange,
  type ProbeResult,
  type ProbeTarget,
} from '../../../../hops/logic/hop-health';
import { bodyDeadline, mayHaveBody, BODY_TIMEOUT_DEFAULTS } from '../../../../hops/logic/body-deadline';
import { listeningInode } from '../../../../hops/runtime/restart-hop';
import { hungFailure, beyondOf } from '../../../../hops/runtime/hop-watchdog';
import type { LinkSpec } from '../../../../hops/spec';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

const S = HEALTH_DEFAULTS; // 3 timeouts in a row, killed again after 20 s

/** Feeds [target, result] pairs at 2 s steps; returns every non-empty change with its time. */
/** Probe steps that all timed out, at these targets in this order. */
const timeouts = (...targets: ProbeTarget[]): [ProbeTarget, ProbeResult][] => targets.map((t) => [t, 'timeout']);

function feed(h: HopHealth, steps: [ProbeTarget, ProbeResult][], start = 0): { at: number; change: HealthChange }[] {
  const out: { at: number; change: HealthChange }[] = [];
  steps.forEach(([target, result], i) => {
    const at = start + i * 2000;
    const change = h.record(target, result, at);
    if (Object.keys(change).length > 0) out.push({ at, change });
  });
  return out;
}

describe('hop health: when a hop is hung (pure)', () => {
  it('defaults detect a hop that stops just after a probe within 10 s', () => {
    // The next probe goes out at most intervalMs later; it and the failures-1 after it each time out.
    expect(S.intervalMs + S.timeoutMs + (S.failures - 1) * S.intervalMs).to.be.at.most(10_000);
  });

  it('a Moat process next: 3 timeouts in a row make it hung and killed; an answer in between resets the count', () => {
    const h = new HopHealth(S, false);
    expect(
      feed(h, [
        ['next', 'timeout'],
        ['next', 'timeout'],
        ['next', 'ok'],
        ['next', 'timeout'],
        ['next', 'timeout'],
      ]),
    ).to.deep.equal([]);
    expect(h.record('next', 'timeout', 10_000)).to.deep.equal({ hung: 'next', kill: 'next' });
    expect(h.hung).to.equal('next');
  });

  it('refused or reset is down, not hung (pm2 restarting it; the forwarder answers hop_unavailable by itself)', () => {
    const h = new HopHealth(S, false);
    expect(
      feed(h, [
        ['next', 'down'],
        ['next', 'down'],
        ['next', 'down'],
        ['next', 'down'],
      ]),
    ).to.deep.equal([]);
    expect(h.hung).to.equal(undefined);
  });

  it('stays hung while it restarts (refused) and recovers at its first answer', () => {
    const h = new HopHealth(S, false);
    feed(h, timeouts('next', 'next', 'next'));
    expect(
      feed(
        h,
        [
          ['next', 'down'],
          ['next', 'down'],
        ],
        6000,
      ),
    ).to.deep.equal([]);
    expect(h.hung).to.equal('next');
    expect(h.record('next', 'ok', 10_000)).to.deep.equal({ recovered: 'next' });
    expect(h.hung).to.equal(undefined);
  });

  it('hung again after its restart: killed again, but not more often than restartEveryMs', () => {
    const h = new HopHealth(S, false);
    const changes = feed(
      h,
      Array.from({ length: 16 }, () => ['next', 'timeout'] as [ProbeTarget, ProbeResult]),
    );
    expect(changes).to.deep.equal([
      { at: 4000, change: { hung: 'next', kill: 'next' } },
      { at: 24_000, change: { kill: 'next' } },
    ]);
  });

  it('behind a third-party hop: the hop silent while the Moat process after it answers: the hop is to blame', () => {
    const h = new HopHealth(S, true);
    const changes = feed(h, [
      ['beyond', 'ok'],
      ['next', 'timeout'],
      ['beyond', 'ok'],
      ['next', 'timeout'],
      ['beyond', 'ok'],
      ['next', 'timeout'],
    ]);
    expect(changes).to.deep.equal([{ at: 10_000, change: { hung: 'next', kill: 'next' } }]);
  });

  it(
    'behind a third-party hop: the Moat process after it is silent too: that one is to blame, not the hop ' +
      '(whatever the order)',
    () => {
      const h = new HopHealth(S, true);
      const changes = feed(h, timeouts('next', 'beyond', 'beyond', 'next', 'next', 'beyond'));
      expect(changes).to.deep.equal([{ at: 10_000, change: { hung: 'beyond', kill: 'beyond' } }]);
    },
  );

  it(
    'the process after the hop recovers: the timeouts the hop ' + 'had while waiting on it do not make the hop hung',
    () => {
      const h = new HopHealth(S, true);
      feed(h, timeouts('beyond', 'next', 'beyond', 'next', 'beyond', 'next'));
      expect(h.hung).to.equal('beyond');
      // The probe through the hop that was waiting on it times out once more after it answered again.
      expect(
        feed(
          h,
          [
            ['beyond', 'ok'],
            ['next', 'timeout'],
            ['next', 'ok'],
          ],
          12_000,
        ),
      ).to.deep.equal([{ at: 12_000, change: { recovered: 'beyond' } }]);
      expect(h.hung).to.equal(undefined);
    },
  );

  it('a hung hop, then the process after it found hung too: the blame moves to that one', () => {
    const h = new HopHealth(S, true);
    feed(h, [
      ['beyond', 'ok'],
      ['next', 'timeout'],
      ['next', 'timeout'],
      ['next', 'timeout'],
    ]);
    expect(h.hung).to.equal('next');
    const changes = feed(
      h,
      [
        ['beyond', 'timeout'],
        ['beyond', 'timeout'],
        ['beyond', 'timeout'],
      ],
      8000,
    );
    expect(changes).to.deep.equal([{ at: 12_000, change: { hung: 'beyond', kill: 'beyond', recovered: 'next' } }]);
  });

  it(
    'suspect (probed through a third-party hop even with nothing in flight): held hung, or its last probe ' +
      'unanswered',
    () => {
      const h = new HopHealth(S, true);
      expect(h.suspect('next')).to.equal(false);
      h.record('next', 'timeout', 0);
      expect(h.suspect('next')).to.equal(true);
      h.record('next', 'ok', 2000);
      expect(h.suspect('next')).to.equal(false);
      feed(
        h,
        [
          ['next', 'timeout'],
          ['next', 'timeout'],
          ['next', 'timeout'],
          ['next', 'down'],
        ],
        4000,
      );
      expect(h.suspect('next')).to.equal(true);
    },
  );

  it('the answer names the hop: 504 hop_timeout "stopped answering"', () => {
    expect(hungFailure({ port: 1, hop: 2, name: 'moat-policy' }, S)).to.deep.equal({
      status: 504,
      error: 'hop_timeout',
      message:
        'hop 2 (moat-policy) stopped answering: no answer to 3 health probes in a row (3 s each); moat is ' +
        'restarting it',
      hop: 2,
      hop_name: 'moat-policy',
    });
  });

  it(
    'the Moat process after a third-party hop: `beyond` for a forward hop, `skip` for a base_url hop, none ' +
      'after a Moat process',
    () => {
      const next = { port: 2, hop: 2, name: 'tinyproxy' };
      const after = { port: 3, hop: 3, name: 'moat-policy', moat: true };
      const via = (onward: LinkSpec['onward']) => beyondOf({ onward } as LinkSpec);
      expect(via({ kind: 'forward_hop', next, beyond: after })).to.equal(after);
      expect(via({ kind: 'base_url_hop', next, scope: { hosts: ['*'], paths: [] }, skip: after })).to.equal(after);
      expect(via({ kind: 'last_hop', next, allow: [], extraCa: [] })).to.equal(undefined);
      expect(via({ kind: 'moat', next: after })).to.equal(undefined);
    },
  );
});

describe('body deadline (pure): body=20, MinRate=500', () => {
  it('20 s after the headers, plus 1 s per 500 bytes received', () => {
    const t = BODY_TIMEOUT_DEFAULTS;
    expect(bodyDeadline(1000, 0, t)).to.equal(21_000);
    expect(bodyDeadline(1000, 499, t)).to.equal(21_000);
    expect(bodyDeadline(1000, 500, t)).to.equal(22_000);
    expect(bodyDeadline(0, 10 * 1024 * 1024, t)).to.equal(20_000 + Math.floor((10 * 1024 * 1024) / 500) * 1000);
    expect(bodyDeadline(0, 10_000, { baseMs: 5000, minRateBytesPerS: 0 })).to.equal(5000);
  });

  it('a byte every 3 s never earns an extension; 500 B/s or more always keeps ahead of the deadline', () => {
    const t = BODY_TIMEOUT_DEFAULTS;
    expect(bodyDeadline(0, Math.floor(20_000 / 3000) + 1, t)).to.equal(20_000);
    for (const s of [10, 60, 600]) expect(bodyDeadline(0, 500 * s, t)).to.be.above(s * 1000);
  });

  it('only a request that can carry a body is watched', () => {
    expect(mayHaveBody({})).to.equal(false);
    expect(mayHaveBody({ 'content-length': '0' })).to.equal(false);
    expect(mayHaveBody({ 'content-length': '12' })).to.equal(true);
    expect(mayHaveBody({ 'transfer-encoding': 'chunked' })).to.equal(true);
  });
});

describe('restarting a hung hop: the listener of a port from /proc/net/tcp (pure)', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0',
    '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1',
    '   2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 100 0 0 10 0',
  ].join('\n');

  it('the LISTEN socket on 127.0.0.1 or every address, not a connection on the same port', () => {
    expect(listeningInode(0x1f90, table)).to.equal('111');
    expect(listeningInode(0x1f91, table)).to.equal('333');
    expect(listeningInode(0x1f92, table)).to.equal(undefined);
  });
});

describe('plan: hung-hop watch and body timeout wiring', () => {
  const plan = (yaml: string) => planFromYaml(yaml, 'w');

  it('the link in front of a third-party forward hop learns the Moat process after it; nothing else gets one', () => {
    const p = plan('proxies: [moat-telemetry, tinyproxy, moat-policy]\n');
    const specs = p.processes.filter((x) => x.spec).map((x) => [x.id, beyondOf(x.spec!)]);
    const policy = p.processes.find((x) => x.id === '3-moat-policy')!;
    expect(specs).to.deep.equal([
      ['0-ingress', undefined],
      ['1-moat-telemetry', undefined],
      [
        '2-link',
        {
          port: policy.port,
          hop: 3,
          name: 'moat-policy',
          moat: true,
          tokenFile: '/h/chains/w/links/3-moat-policy.token',
        },
      ],
      ['3-moat-policy', undefined],
      ['4-egress', undefined],
    ]);
  });

  it(
    'ingress.body_timeout_s reaches every Moat process (a body ' + 'trickles through all of them), the default none',
    () => {
      expect(plan('proxies: [moat-policy]\n').processes.map((x) => x.spec?.bodyTimeoutS)).to.deep.equal([
        undefined,
        undefined,
        undefined,
      ]);
      expect(
        plan('proxies: [moat-policy]\ningress:\n  body_timeout_s: 60\n').processes.map((x) => x.spec?.bodyTimeoutS),
      ).to.deep.equal([60, 60, 60]);
    },
  );
});
