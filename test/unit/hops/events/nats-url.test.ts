// A NATS URL list (events.nats_url, MOAT_NATS_URL, --nats; issue 23): which lists are refused and why, what
// nats.js is handed, and that redaction hides credentials in every server of a list, a password cut by a raw comma
// included.
import { expect } from 'chai';
import { natsConnection, natsServerList, natsUrlProblem, redactNatsUrl } from '../../../../hops/events/nats-url';

describe('NATS URL lists', () => {
  const problems: [string, string | undefined][] = [
    ['nats://127.0.0.1:4222', undefined],
    ['127.0.0.1:4222', undefined],
    ['nats://u:p@a:4222,nats://b:4222,tls://c:4443', undefined],
    ['nats://a:4222, nats://b:4222', undefined],
    ['nats://[::1]:4222,nats://b', undefined],
    ['nats://a:4222,,nats://b:4222', 'server 2 of 3 is empty (a stray comma?)'],
    ['nats://a:4222,', 'server 2 of 2 is empty (a stray comma?)'],
    ['http://a:4222', 'the server has a scheme NATS does not speak (nats://, tls://, ws:// or wss://)'],
    ['nats://a:99999', 'the server is not [nats://][user:password@]host[:port] (nats://a:99999)'],
    ['nats://a b:4222', 'the server is not [nats://][user:password@]host[:port] (nats://a b:4222)'],
    [
      'nats://a:4222,b:4222',
      'server 2 of 2 has no scheme: in a list every server starts with nats:// (or tls://), and a comma inside a ' +
        'password is written %2C',
    ],
    // A raw comma in a password: the first half is no server, and the message shows none of it.
    ['nats://u:pa,ss@a:4222', 'server 1 of 2 is not [nats://][user:password@]host[:port] (***)'],
    // Digits after the comma look like a port: the tail has credentials and no scheme, so it is refused.
    [
      'nats://u:1234,x@a:4222',
      'server 2 of 2 has no scheme: in a list every server starts with nats:// (or tls://), and a comma inside a ' +
        'password is written %2C',
    ],
  ];
  for (const [url, problem] of problems)
    it(`${url}: ${problem ?? 'accepted'}`, () => expect(natsUrlProblem(url)).to.equal(problem));

  const shown: [string, string][] = [
    ['nats://u:p@a:4222,nats://u:p@b:4222,nats://c:4222', 'nats://***@a:4222,nats://***@b:4222,nats://c:4222'],
    ['nats://a:4222,nats://tok@b:4222', 'nats://a:4222,nats://***@b:4222'],
    // A password cut by raw commas: every piece of it is masked.
    ['nats://u:pa,ss@a:4222', '***,***@a:4222'],
    ['nats://u:1234,x@a:4222,nats://b:4222', '***,***@a:4222,nats://b:4222'],
    ['nats://u:a,b,c@h:4222', '***,***,***@h:4222'],
    ['nats://ok:4222,nats://u:a,b@h', 'nats://ok:4222,***,***@h'],
  ];
  for (const [url, redacted] of shown)
    it(`shows ${url} as ${redacted}`, () => expect(redactNatsUrl(url)).to.equal(redacted));

  it('hands nats.js every server of the list, trimmed, and the first credentials as options', () => {
    expect(natsServerList(' nats://a:1 ,nats://b:2')).to.deep.equal(['nats://a:1', 'nats://b:2']);
    expect(natsConnection('nats://a:1,nats://u:p@b:2,nats://v:q@c:3')).to.deep.equal({
      servers: ['nats://a:1', 'nats://b:2', 'nats://c:3'],
      user: 'u',
      pass: 'p',
    });
  });
});
