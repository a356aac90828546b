// The live sinks on real sockets and files (127.0.0.1 port 0): UDP and TCP syslog receive each finding, a TCP receiver
// that is down is retried until it is up, the JSON lines file is appended 0600 and never through a symbolic link, the
// queue is bounded, and push never throws or waits.
import { expect } from 'chai';
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startSinks } from '../../../../supervisor/findings/sinks';
import type { Finding } from '../../../../supervisor/findings/finding';
import { syslogListener } from '../../../helpers/syslog-listener';
import { tmpDir } from '../../../helpers/tmp';

const finding = (trace: string): Finding => ({
  code: 'dlp_blocked',
  level: 'error',
  chain: 'c',
  trace,
  event: `e-${trace}`,
  time: '2026-12-05T10:00:00.000Z',
  hop: 2,
  hop_name: 'moat-policy',
  rule: 'dlp',
  detectors: ['github_token'],
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const syslog = (port: number, protocol: 'udp' | 'tcp') =>
  ({ kind: 'syslog', host: '127.0.0.1', port, protocol, facility: 16, remote: false }) as const;

describe('findings sinks', function () {
  this.timeout(20_000);
  const dir = tmpDir('moat-sinks-');
  after(() => dir.remove());

  for (const protocol of ['udp', 'tcp'] as const)
    it(`syslog over ${protocol} receives each finding`, async () => {
      const listener = await syslogListener(protocol);
      const lines: string[] = [];
      const [sink] = startSinks([syslog(listener.port, protocol)], (l) => lines.push(l));
      try {
        sink.push([finding('t1'), finding('t2')]);
        await listener.waitFor((m) => m.includes('trace="t2"'));
        expect(listener.messages.filter((m) => m.includes('dlp_blocked'))).to.have.length(2);
        expect(listener.messages[0]).to.match(/^<131>1 /);
      } finally {
        await sink.close();
        await listener.close();
      }
      expect(lines).to.deep.equal([]);
    });

  it('a TCP receiver that is down: logged once, kept, sent when it comes up', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const [sink] = startSinks([syslog(port, 'tcp')], (l) => lines.push(l));
    sink.push([finding('early')]);
    await new Promise((r) => setTimeout(r, 700));
    sink.push([finding('later')]);
    expect(lines.filter((l) => l.includes('retrying'))).to.have.length(1);
    const listener = await syslogListener('tcp', port);
    try {
      await listener.waitFor((m) => m.includes('trace="later"'));
      expect(listener.messages.some((m) => m.includes('trace="early"'))).to.equal(true);
      expect(lines.some((l) => l.includes('sending again'))).to.equal(true);
    } finally {
      await sink.close();
      await listener.close();
    }
  });

  it('the queue is bounded: the oldest findings are dropped and counted', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const [sink] = startSinks([syslog(port, 'tcp')], (l) => lines.push(l), 3);
    const started = performance.now();
    for (let i = 0; i < 10; i++) sink.push([finding(`q${i}`)]);
    expect(performance.now() - started).to.be.below(50); // never waits
    const listener = await syslogListener('tcp', port);
    try {
      await listener.waitFor((m) => m.includes('trace="q9"'));
      await new Promise((r) => setTimeout(r, 200));
      const traces = listener.messages.map((m) => /trace="([^"]+)"/.exec(m)![1]);
      expect(traces.length).to.be.at.most(4); // the one in flight when it failed, and the newest 3
      expect(traces).to.include.members(['q7', 'q8', 'q9']);
      expect(lines.some((l) => l.includes('queue full'))).to.equal(true);
      expect(lines.some((l) => /\d+ finding\(s\) were dropped/.test(l))).to.equal(true);
    } finally {
      await sink.close();
      await listener.close();
    }
  });

  it('a JSON lines file: appended, 0600, one finding per line', async () => {
    const file = join(dir.path, 'findings.jsonl');
    writeFileSync(file, '{"old":1}\n', { mode: 0o644 });
    const [sink] = startSinks([{ kind: 'jsonl', file }], () => undefined);
    sink.push([finding('f1')]);
    sink.push([finding('f2')]);
    await sink.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).to.have.length(3);
    expect(JSON.parse(lines[2])).to.deep.include({ trace: 'f2', code: 'dlp_blocked' });
    expect(statSync(file).mode & 0o777).to.equal(0o600);
  });

  it('a JSON lines file that is a symbolic link is not written through (logged, retried)', async () => {
    const target = join(dir.path, 'elsewhere');
    const link = join(dir.path, 'link.jsonl');
    symlinkSync(target, link);
    const lines: string[] = [];
    const [sink] = startSinks([{ kind: 'jsonl', file: link }], (l) => lines.push(l));
    sink.push([finding('s1')]);
    await sink.close(300);
    expect(existsSync(target)).to.equal(false);
    expect(lines.join('\n')).to.match(/ELOOP|symbolic/);
  });

  it('a spec whose address is off the machine without remote: true sends nothing', async () => {
    const lines: string[] = [];
    const [sink] = startSinks(
      [{ kind: 'syslog', host: '192.0.2.1', port: 514, protocol: 'udp', facility: 16, remote: false }],
      (l) => lines.push(l),
    );
    sink.push([finding('x')]);
    await sink.close(300);
    expect(lines.join('\n')).to.include('refused: 192.0.2.1 is not this machine');
  });
});
