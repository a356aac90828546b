// Tunnels held by the Moat process after a third-party hop for the hop's CONNECT (hops/runtime/tunnel-parking.ts):
// taken once by trace and destination, expired when the hop does not come, a second hold for the same key ends the
// first, and tunnels opened through the hop are known as open. Timers only, no sockets.
import { expect } from 'chai';
import { parkingKey, TunnelParking } from '../../../../hops/runtime/tunnel-parking';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const held = () => ({ adopt: () => undefined });

describe('tunnel parking', () => {
  const key = parkingKey({ trace: 't1', host: 'blind.example.com', port: 443 });

  it('the key is trace and destination: another trace or port is another tunnel', () => {
    expect(key).to.equal('t1 blind.example.com:443');
    expect(parkingKey({ trace: 't2', host: 'blind.example.com', port: 443 })).to.not.equal(key);
    expect(parkingKey({ trace: 't1', host: 'blind.example.com', port: 8443 })).to.not.equal(key);
  });

  it('a held tunnel is taken once, and does not expire once taken', async () => {
    const p = new TunnelParking();
    const tunnel = held();
    let expired = 0;
    p.park(key, tunnel, () => expired++, 30);
    expect(p.take('t1 other.example.com:443')).to.equal(undefined);
    expect(p.take(key)).to.equal(tunnel);
    expect(p.take(key)).to.equal(undefined);
    await sleep(60);
    expect(expired).to.equal(0);
    expect(p.size).to.equal(0);
  });

  it('one the hop never comes for expires', async () => {
    const p = new TunnelParking();
    let expired = 0;
    p.park(key, held(), () => expired++, 20);
    await sleep(60);
    expect(expired).to.equal(1);
    expect(p.take(key)).to.equal(undefined);
  });

  it('a second hold for the same key ends the first at once', async () => {
    const p = new TunnelParking();
    const ended: string[] = [];
    p.park(key, held(), () => ended.push('first'), 1000);
    const second = held();
    p.park(key, second, () => ended.push('second'), 20);
    expect(ended).to.deep.equal(['first']);
    await sleep(60);
    expect(ended).to.deep.equal(['first', 'second']);
  });

  it('tunnels opened through the hop are open until each says it closed', () => {
    const p = new TunnelParking();
    const a = p.opened(key);
    const b = p.opened(key);
    a();
    a();
    expect(p.isOpen(key)).to.equal(true);
    b();
    expect(p.isOpen(key)).to.equal(false);
  });
});
