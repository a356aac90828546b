import { expect } from 'chai';
import {
  handshakeHeaders,
  isWebSocketHandshake,
  recordedSwitchHeaders,
  switchingHead,
  WEBSOCKET_MARK,
  websocketUnsupported,
  withoutExtensions,
} from '../../../../hops/logic/websocket';
import { VIA_HEADER } from '../../../../hops/logic/hop-answer';

describe('websocket handshake (pure)', () => {
  const cases: [string, string | undefined, Record<string, string>, boolean][] = [
    ['a GET with Upgrade: websocket', 'GET', { upgrade: 'websocket' }, true],
    ['any case', 'GET', { upgrade: 'WebSocket' }, true],
    ['listed with another protocol', 'GET', { upgrade: 'h2c, websocket' }, true],
    ['h2c alone is no WebSocket', 'GET', { upgrade: 'h2c' }, false],
    ['a POST is no handshake', 'POST', { upgrade: 'websocket' }, false],
    ['no Upgrade', 'GET', {}, false],
    ['a protocol merely containing the word', 'GET', { upgrade: 'websocketx' }, false],
  ];
  for (const [name, method, headers, expected] of cases)
    it(`${name}: ${expected}`, () => expect(isWebSocketHandshake(method, headers)).to.equal(expected));

  it('sends the upgrade again, with the mark inside the chain and without it outside', () => {
    const inside = handshakeHeaders({ host: 'h', 'sec-websocket-key': 'k' }, false);
    expect(inside).to.deep.include({ connection: 'Upgrade', upgrade: 'websocket', [WEBSOCKET_MARK]: '1' });
    const outside = handshakeHeaders({ host: 'h', 'sec-websocket-key': 'k' }, true);
    expect(outside).to.deep.equal({ host: 'h', 'sec-websocket-key': 'k', connection: 'Upgrade', upgrade: 'websocket' });
  });

  it('takes the extensions offer off (frames stay readable)', () => {
    const headers = { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits', host: 'h' };
    withoutExtensions(headers);
    expect(headers).to.deep.equal({ host: 'h' });
  });

  it("writes the 101 with the server's headers as they came, without Moat's mark", () => {
    const head = switchingHead('Switching Protocols', [
      'Upgrade',
      'websocket',
      'x-moat-via',
      '3',
      'Sec-WebSocket-Accept',
      'abc=',
    ]);
    expect(head).to.equal(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc=\r\n\r\n',
    );
    expect(switchingHead('', [])).to.equal('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    expect(recordedSwitchHeaders({ upgrade: 'websocket', [VIA_HEADER]: '3' })).to.deep.equal({ upgrade: 'websocket' });
  });

  it('names the hop that cannot carry WebSockets, and how it failed', () => {
    const answered = websocketUnsupported({ hop: 2, name: 'headroom' }, 404);
    expect(answered).to.include({ status: 502, error: 'websocket_unsupported', hop: 2, hop_name: 'headroom' });
    expect(answered.hop_status).to.equal(404);
    expect(answered.message).to.match(/^hop 2 \(headroom\) answered the WebSocket handshake itself \(404\)/);
    const dropped = websocketUnsupported({ hop: 3, name: 'squid' });
    expect(dropped.hop_status).to.equal(undefined);
    expect(dropped.message).to.contain('hop 3 (squid) passed the WebSocket handshake on without its upgrade');
  });
});
