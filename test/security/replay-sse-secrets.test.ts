// replay and bisect print a streamed (SSE) response's changes event by event, from its events' parsed data. A
// destination (or a hop) that puts a key in a stream's data, plain or behind a JSON escape, must not get it printed by
// `moat chain replay` or `bisect`: the body is masked as records are before its events are parsed and diffed.
import { expect } from 'chai';
import { outcomeChange } from '../../supervisor/commands/bisect';
import { replayDiff, type ReplayedResponse } from '../../supervisor/commands/replay';
import type { MoatEvent } from '../../schemas/generated/event';
import { fake } from '../helpers/fake-secrets';

const SSE = { 'content-type': 'text/event-stream' };
const stream = (data: string): ReplayedResponse => ({
  status: 200,
  headers: SSE,
  body: `event: message_start\ndata: {"type":"message_start"}\n\nevent: delta\ndata: ${data}\n\n`,
});
// The key's first letter as a JSON escape: the same string once parsed, not the same text.
const escaped = (key: string) => `\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${key.slice(1)}`;

describe('security: replay and bisect never print a key from a stream’s data', () => {
  for (const [how, wrap] of [
    ['plain', (k: string) => k],
    ['behind a JSON escape', escaped],
  ] as const) {
    it(`bisect: a key ${how} in an event's data is masked in the change it prints`, () => {
      const key = fake.anthropicKey();
      const change = outcomeChange(stream('{"text":"hi"}'), stream(`{"text":"${wrap(key)}"}`), new Set());
      const printed = JSON.stringify(change);
      expect(printed).to.contain('events[1].data.text');
      expect(printed).to.not.contain(key.slice(1, 30));
    });

    it(`replay: a key ${how} in the new stream's data is masked in the diff`, () => {
      const key = fake.openAiKey();
      const recorded = {
        id: 'e',
        trace: 't',
        hop: 1,
        boundary: 0,
        direction: 'response',
        headers: SSE,
        body: stream('{"text":"hi"}').body,
      } as unknown as MoatEvent;
      const diff = replayDiff([recorded], 1, stream(`{"text":"${wrap(key)}"}`));
      expect(diff.body.join('\n')).to.contain('events[1].data.text').and.not.contain(key.slice(1, 30));
    });
  }
});
