// Credentials per link, without sockets: the check every Moat listener makes, the entrance line of an isolated
// hop, the credentials the plan derives, and the log of refusals.
import { expect } from 'chai';
import { carriesCredential, expectedBasic } from '../../../../hops/logic/credential-check';
import { checkEntrance, entranceLine } from '../../../../hops/runtime/hop-entrance';
import { RefusalLog } from '../../../../hops/runtime/refusal-log';
import { linkToken } from '../../../../supervisor/chain/plan';
import { listenerUid } from '../../../../hops/runtime/listener-owner';
import { coveredPaths } from '../../../../supervisor/transparent/covered-paths';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

describe('credentials per link', () => {
  const own = 'a'.repeat(64);
  const expected = expectedBasic(own);

  it('a listener takes its own credential, and nothing else', () => {
    expect(carriesCredential(basic(`moat:${own}`), expected)).to.equal(true);
    expect(carriesCredential(`basic   ${Buffer.from(`moat:${own}`).toString('base64')}`, expected)).to.equal(true);
    for (const header of [
      undefined,
      '',
      basic(`moat:${'b'.repeat(64)}`),
      basic(`moat:${own}x`),
      basic(`moat:${own.slice(1)}`),
      basic(`x:${own}`),
      `Bearer ${own}`,
      [basic(`moat:${own}`)],
    ]) {
      expect(carriesCredential(header as any, expected), String(header)).to.equal(false);
    }
  });

  it(
    "each listener's credential is an HMAC of the secret and its id: the agent's token and other credentials " +
      'tell nothing',
    () => {
      const a = linkToken('secret', '1-moat-policy');
      expect(a).to.match(/^[0-9a-f]{64}$/);
      expect(linkToken('secret', '1-moat-policy')).to.equal(a);
      expect(linkToken('secret', '2-egress')).to.not.equal(a);
      expect(linkToken('other', '1-moat-policy')).to.not.equal(a);
    },
  );

  describe('the entrance line of an isolated hop', () => {
    const line = entranceLine(own);

    it('opens once the whole line arrived, giving back what followed it', () => {
      const after = Buffer.from('CONNECT api.anthropic.com:443 HTTP/1.1\r\n\r\n');
      const check = checkEntrance(Buffer.concat([line, after]), line);
      expect(check.state).to.equal('open');
      expect((check as { rest: Buffer }).rest.equals(after)).to.equal(true);
      expect(checkEntrance(line, line)).to.deep.include({ state: 'open' });
    });

    it('refuses at once what cannot be an entrance line: a proxy request, a scan', () => {
      for (const first of ['CONNECT a:443 HTTP/1.1\r\n', 'GET / HTTP/1.1\r\n', '\x16\x03\x01', 'M', 'MOAT-X']) {
        expect(checkEntrance(Buffer.from(first), line).state, first).to.equal(first === 'M' ? 'incomplete' : 'refused');
      }
    });

    it('compares the credential only once all of it arrived, so a partial guess learns nothing', () => {
      const prefix = line.subarray(0, 'MOAT-ENTRANCE '.length);
      // A right first byte and a wrong one wait alike.
      expect(checkEntrance(Buffer.concat([prefix, Buffer.from(own[0])]), line).state).to.equal('incomplete');
      expect(checkEntrance(Buffer.concat([prefix, Buffer.from('z')]), line).state).to.equal('incomplete');
      expect(checkEntrance(entranceLine('b'.repeat(64)), line).state).to.equal('refused');
      expect(checkEntrance(Buffer.from(`MOAT-ENTRANCE ${own}\n\n`), line).state).to.equal('refused');
    });
  });

  it('refusals are logged naming the listener, at most one line a second, the rest counted', () => {
    const lines: string[] = [];
    let now = 0;
    const log = new RefusalLog(
      (l) => lines.push(l),
      'egress, listener 127.0.0.1:9',
      () => now,
    );
    log.note('CONNECT');
    log.note('CONNECT');
    log.note('link TLS');
    now = 1500;
    log.note('CONNECT');
    expect(lines).to.deep.equal([
      "refused: egress, listener 127.0.0.1:9: a CONNECT request without this listener's credential (407)",
      "refused: egress, listener 127.0.0.1:9: a CONNECT request without this listener's credential (407) " +
        '(and 2 more since the last line)',
    ]);
  });

  it("reads whose a listener is from the kernel's socket table (LISTEN rows only)", () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1',
      '   1: 0100007F:1F91 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 112 1',
      '   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 113 1',
    ].join('\n');
    expect(listenerUid(8080, table)).to.equal(1000);
    expect(listenerUid(8081, table), 'an established socket is no listener').to.equal(undefined);
    expect(listenerUid(80, table)).to.equal(65534);
    expect(listenerUid(81, table)).to.equal(undefined);
  });

  it("run --transparent covers every chain's pm2 home in the temporary directory, not only its own", () => {
    const tmp = mkdtempSync(join(tmpdir(), 'moat-cover-'));
    try {
      for (const d of ['moat-pm2-aaa', 'moat-pm2-bbb', 'other']) mkdirSync(join(tmp, d));
      const home = join(tmp, 'home');
      mkdirSync(home);
      const covered = coveredPaths({ moatHome: home, pm2Home: join(tmp, 'moat-pm2-aaa') }, tmp);
      expect(covered.sort()).to.deep.equal([home, join(tmp, 'moat-pm2-aaa'), join(tmp, 'moat-pm2-bbb')].sort());
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
