// events.replicas (issue 23): the default for the cluster a connection reached, what a JetStream failure means
// (only "not found" may lead to making anything anew), how a stream's placement is shown, and when an existing stream
// is raised.
import { expect } from 'chai';
import {
  clusterServers,
  describePlacement,
  jsFailure,
  placementOf,
  wantedReplicas,
  type JsFailure,
} from '../../../../supervisor/ledger/replicas';
import { planStream, streamConfig } from '../../../../supervisor/ledger/stream';
import { unavailableHint } from '../../../../supervisor/ledger/writer';

describe('stream replicas', () => {
  const defaults: [string, { cluster?: string; connect_urls?: string[] } | undefined, number | undefined, number][] = [
    ['a single server', {}, undefined, 1],
    ['a single server, events.replicas: 1', {}, 1, 1],
    ['a cluster of two', { cluster: 'c', connect_urls: ['a:1', 'b:1'] }, undefined, 1],
    ['a cluster of three', { cluster: 'c', connect_urls: ['a:1', 'b:1', 'c:1'] }, undefined, 3],
    ['a cluster of five', { cluster: 'c', connect_urls: ['a', 'b', 'c', 'd', 'e'] }, undefined, 3],
    ['a cluster of three, events.replicas: 5', { cluster: 'c', connect_urls: ['a', 'b', 'c'] }, 5, 5],
    ['a cluster of three, events.replicas: 1', { cluster: 'c', connect_urls: ['a', 'b', 'c'] }, 1, 1],
    ['a cluster that announces no addresses', { cluster: 'c' }, undefined, 1],
    ['no server info yet', undefined, undefined, 1],
  ];
  for (const [name, info, configured, wanted] of defaults)
    it(`${name}: ${wanted}`, () => expect(wantedReplicas(configured, clusterServers(info))).to.equal(wanted));

  const failures: [string, unknown, JsFailure][] = [
    ['stream not found', { api_error: { code: 404, err_code: 10059 }, message: 'stream not found' }, 'not-found'],
    ['consumer not found', { api_error: { code: 404, err_code: 10014 }, message: 'consumer not found' }, 'not-found'],
    ['no peers for placement', { api_error: { code: 400, err_code: 10005 } }, 'placement'],
    ['replicas on a single server', { api_error: { code: 500, err_code: 10074 } }, 'placement'],
    ['insufficient resources', { api_error: { code: 503, err_code: 10023 } }, 'placement'],
    ['JetStream temporarily unavailable', { api_error: { code: 503, err_code: 10008 } }, 'unavailable'],
    ['a timeout', { code: 'TIMEOUT', message: 'TIMEOUT' }, 'unavailable'],
    ['no responders', { code: '503', message: '503' }, 'unavailable'],
    ['a consumer with settings that cannot change', { api_error: { code: 400, err_code: 10012 } }, 'other'],
    ['nothing at all', undefined, 'other'],
  ];
  for (const [name, err, kind] of failures) it(`${name} is ${kind}`, () => expect(jsFailure(err)).to.equal(kind));

  it('shows the replica count, the leader and the state of every server holding the stream', () => {
    expect(describePlacement(placementOf('MOAT_a', undefined, undefined))).to.equal('1 replica');
    const p = placementOf('MOAT_a', 3, {
      name: 'c',
      leader: 'n2',
      replicas: [
        { name: 'n1', current: true, active: 0 } as never,
        { name: 'n3', current: false, offline: true, active: 0 } as never,
      ],
    });
    expect(describePlacement(p)).to.equal('3 replicas on cluster c: n2 (leader), n1, n3 (offline)');
    expect(describePlacement(placementOf('MOAT_a', 3, { name: 'c', replicas: [] }))).to.match(/NO LEADER/);
  });

  it('an existing stream with fewer replicas than asked is raised; one with more is kept', () => {
    const existing = (n?: number) => ({ ...streamConfig('a'), ...(n ? { num_replicas: n } : {}) });
    expect(planStream('a', existing(), undefined, 3)).to.equal('update');
    expect(planStream('a', existing(1), undefined, 3)).to.equal('update');
    expect(planStream('a', existing(3), undefined, 3)).to.equal('keep');
    expect(planStream('a', existing(5), undefined, 3)).to.equal('keep');
    expect(planStream('a', null, undefined, 3)).to.equal('add');
    expect(streamConfig('a', undefined, 3).num_replicas).to.equal(3);
  });

  it("says a single-replica stream's events are not kept while its server is down", () => {
    const single = placementOf('MOAT_a', 1, { name: 'c', leader: 'n1', replicas: [] });
    expect(unavailableHint(single)).to.contain('1 replica, on n1').and.contain('events.replicas');
    expect(unavailableHint(placementOf('MOAT_a', 3, { name: 'c', leader: 'n1', replicas: [] }))).to.contain(
      'electing a leader',
    );
    expect(unavailableHint(null)).to.contain('electing a leader');
  });
});
