// WebSocket connections in the ledger and what reads it (issue 21): stored and verified as any event; tap's frame
// lines and close line, `events` lines, the dashboard's trace view and request rows, findings, stats, marks, cache
// and telemetry digests, replay. Built from synthetic events; each reader must show frames sensibly or leave them
// out, never take them for a response.
import { expect } from 'chai';
import type { MoatEvent } from '../../../../schemas/generated/event';
import { TapPairer, formatTapFrames, formatTapRecord, tapFrames } from '../../../../supervisor/ledger/tap-view';
import { eventLines, formatEvent } from '../../../../supervisor/ledger/commands';
import { traceView, MAX_TRACE_FRAMES } from '../../../../supervisor/dashboard/trace-view';
import { hopStats, requestRow } from '../../../../supervisor/dashboard/stats';
import { RequestBook } from '../../../../supervisor/dashboard/request-book';
import { findingsOf } from '../../../../supervisor/findings/finding';
import { eventMarks } from '../../../../supervisor/ledger/event-marks';
import { cacheReport } from '../../../../supervisor/commands/cache-report';
import { digestOf } from '../../../../hops/telemetry/trace-events';
import { replayRequest } from '../../../../supervisor/commands/replay';
import { learnPolicy } from '../../../../supervisor/commands/policy-learn';
import { websocketTrace, HOP_NAMES } from '../../../helpers/synthetic-events';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Ledger } from '../../../../supervisor/ledger/ledger';
import { verifyLedger } from '../../../../supervisor/ledger/verify';
import { ensureLedgerKey, keyFiles } from '../../../../supervisor/ledger/writer';
import { tmpDir } from '../../../helpers/tmp';

const HOPS = HOP_NAMES.map((name, i) => ({ hop: i + 1, name }));

describe('WebSocket connections in ledger readers', () => {
  const events = websocketTrace('ws1', 3);

  it('tap: frames events are not paired as responses; each shows as frame lines, the close in the record', () => {
    const pairer = new TapPairer(1);
    const shown: string[] = [];
    let record;
    for (const e of events) {
      const f = tapFrames(1, e);
      if (f) shown.push(formatTapFrames(f));
      record = pairer.add(e) ?? record;
    }
    expect(shown).to.deep.equal([
      [
        'websocket frames  trace ws1  hop 1 (moat-telemetry)',
        '  -> text 31B +1.5 ms "{\\"type\\":\\"response.create\\"}"',
        '  <- text 12B +20.3 ms "hello client"',
        '  -> close 2B +30.0 ms code 1000',
      ].join('\n'),
    ]);
    expect(record!.status).to.deep.equal({ before: 101, after: 101 });
    const text = formatTapRecord(record!);
    expect(text).to.include('GET api.openai.com/v1/responses');
    expect(text).to.include('  websocket closed by client code 1000   bytes up 45 down 14   frames up 2 down 1');
  });

  it('tap: a long text is cut to a preview, fragments and dropped frames said so', () => {
    const e: MoatEvent = {
      ...events[1],
      frames: [
        { from: 'client', op: 'text', size: 5000, fin: false, at_ms: 2, text: 'x'.repeat(200), text_truncated: true },
      ],
      frames_dropped: 7,
    };
    const lines = formatTapFrames(tapFrames(1, e)!).split('\n');
    expect(lines[0]).to.include('7 more not listed');
    expect(lines[1]).to.equal(`  -> text (more follows) 5000B +2.0 ms "${'x'.repeat(80)}"...`);
    expect(tapFrames(2, e)).to.equal(undefined);
  });

  it('events: a frames line and the close on the response line', () => {
    expect(formatEvent(events[1])).to.match(/frames\s+GET api\.openai\.com\/v1\/responses 3 frame\(s\)$/);
    expect(formatEvent({ ...events[1], frames_dropped: 4 })).to.include('3 frame(s) (+4 not listed)');
    expect(formatEvent(events[2])).to.include('101 0B').and.include('websocket closed_by=client code=1000');
    expect(eventLines(events, false)).to.have.length(events.length);
    expect(eventMarks(events).size).to.equal(0);
  });

  it('dashboard: the trace lists each boundary frames and its close; the row is the handshake', () => {
    const view = traceView('ws1', events, HOPS)!;
    expect(view.boundaries.map((b) => b.frames?.list.length)).to.deep.equal([3, 3, 3]);
    expect(view.boundaries[0].response!.websocket!.closed_by).to.equal('client');
    expect(view.hops.map((h) => h.record.websocket?.bytes_up)).to.deep.equal([45, 45]);
    expect(view.row).to.include({ method: 'GET', status: 101, done: true });
    const many: MoatEvent = {
      ...events[1],
      id: 'many',
      frames: [...Array(MAX_TRACE_FRAMES + 10).keys()].map((i) => ({
        from: 'server' as const,
        op: 'binary' as const,
        size: 1,
        fin: true,
        at_ms: 100 + i,
      })),
      frames_dropped: 3,
    };
    const big = traceView('ws1', [...events, many], HOPS)!.boundaries[0].frames!;
    expect(big.list).to.have.length(MAX_TRACE_FRAMES);
    expect(big.list[0].at_ms).to.equal(1.5); // in time order across events
    expect([big.dropped, big.more]).to.deep.equal([3, 13]);
  });

  it('dashboard: the request book keeps no frames events, stats count the connection once per hop', () => {
    const book = new RequestBook(HOPS);
    const rows = events.map((e) => book.add(e));
    expect(rows.filter((r, i) => events[i].direction === 'frames' && r !== undefined)).to.deep.equal([]);
    expect(book.events('ws1').some((e) => e.direction === 'frames')).to.equal(false);
    expect(book.rows()[0]).to.include({ status: 101, done: true });
    const stats = hopStats([events], HOPS);
    expect(stats.map((s) => [s.requests, s.responses])).to.deep.equal([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(requestRow(events).hops).to.deep.equal([1, 2, 3]);
  });

  it('findings: a DLP close is a finding with its detectors; frames events are none', () => {
    const blocked = websocketTrace(
      'ws2',
      1,
      { closed_by: 'moat', close_code: 1008 },
      { error: 'dlp_blocked', decision: 'deny', rule: 'dlp', reason: 'client text message contains openai_key' },
    );
    const findings = findingsOf(blocked);
    expect(findings).to.have.length(1);
    expect(findings[0]).to.include({ code: 'dlp_blocked', status: 101 });
    expect(findings[0].detectors).to.deep.equal(['openai_key']);
  });

  it('cache report, telemetry digests and policy learn read past frames events', () => {
    expect(() => cacheReport(events, {})).not.to.throw();
    expect(events.filter((e) => e.direction === 'frames').map(digestOf)).to.deep.equal([
      undefined,
      undefined,
      undefined,
    ]);
    expect(() => learnPolicy(events, 'ws1')).not.to.throw();
  });

  it('replay refuses a WebSocket trace with its own error', () => {
    expect(() => replayRequest(events, 'ws1', 1))
      .to.throw(/WebSocket connection/)
      .with.property('code', 'MOAT_ERR_REPLAY_WEBSOCKET');
  });
});

describe('WebSocket events in the ledger', () => {
  const dir = tmpDir('moat-ledger-ws-');
  after(() => dir.remove());

  it('stores frames events and close events as any other, hash-chained, and verify accepts them', async () => {
    const file = join(dir.path, 'ledger.db');
    ensureLedgerKey(file);
    const ledger = await Ledger.open(file);
    const events = websocketTrace('ws3', 2).map((e) => ({ ...e, chain: 'c' }));
    expect(await ledger.append(events)).to.equal(events.length);
    const stored = (await ledger.eventTexts("WHERE direction = 'frames'", [])).map((t) => JSON.parse(t) as MoatEvent);
    expect(stored.map((e) => e.frames!.length)).to.deep.equal([3, 3]);
    const result = verifyLedger(
      'c',
      await ledger.rows(),
      await ledger.checkpoints(),
      readFileSync(keyFiles(file).publicKey, 'utf8'),
    );
    await ledger.close();
    expect(result.ok, JSON.stringify(result)).to.equal(true);
  });
});
