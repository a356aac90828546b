// egress.upstream_proxy in moat.yaml: the URL checked at load (with file and line), the spec egress gets (no
// credentials), and the credentials read at `up` from the variable credentials_env names, handed to egress alone.
import { expect } from 'chai';
import {
  checkUpstreamProxy,
  readUpstreamProxyCredentials,
  upstreamProxyEnv,
  upstreamProxySpec,
  wireUpstreamProxy,
} from '../../../../supervisor/config/upstream-proxy';
import { MoatError } from '../../../../supervisor/errors';
import type { PlannedProcess } from '../../../../supervisor/chain/plan-types';

const where = (path: (string | number)[]) => `moat.yaml:7:5 (${path.join('.')})`;
const config = (upstream_proxy?: object) =>
  ({ egress: { allow: ['*'], resolve: {}, extra_ca: [], timeout_ms: 1, upstream_proxy } }) as any;

function errorOf(fn: () => unknown): MoatError {
  try {
    fn();
  } catch (err) {
    return err as MoatError;
  }
  throw new Error('no error');
}

describe('egress.upstream_proxy config', () => {
  it('refuses a URL with credentials, naming the key and line, never the password', () => {
    const err = errorOf(() => checkUpstreamProxy(config({ url: 'http://alice:s3cret@proxy.corp:3128' }), where));
    expect(err.code).to.equal('MOAT_ERR_CONFIG_INVALID');
    expect(err.message).to.contain('moat.yaml:7:5').and.contain('egress.upstream_proxy.url').and.not.contain('s3cret');
    expect(() => checkUpstreamProxy(config({ url: 'http://proxy.corp:3128' }), where)).to.not.throw();
    expect(() => checkUpstreamProxy(config(), where)).to.not.throw();
  });

  it("puts host, port, bypass and the variable's fixed name into egress's spec, never a credential", () => {
    expect(upstreamProxySpec(config())).to.equal(undefined);
    expect(upstreamProxySpec(config({ url: 'http://proxy.corp:3128', credentials_env: 'CORP_AUTH' }))).to.deep.equal({
      host: 'proxy.corp',
      port: 3128,
      bypass: [],
      credentialsEnv: 'MOAT_UPSTREAM_PROXY_AUTH',
    });
    expect(upstreamProxySpec(config({ url: 'http://proxy.corp', bypass: ['*.corp'] }))).to.deep.equal({
      host: 'proxy.corp',
      port: 80,
      bypass: ['*.corp'],
    });
    const egress = { role: 'egress', spec: { egress: {} }, forwardsTo: 'internet' } as unknown as PlannedProcess;
    const fields = wireUpstreamProxy(config({ url: 'http://proxy.corp:3128', credentials_env: 'X' }), {
      processes: [egress],
    });
    expect(fields).to.deep.equal({ upstreamProxy: 'proxy.corp:3128' });
    expect(egress.forwardsTo).to.equal('internet through proxy.corp:3128');
    expect(egress.spec!.egress!.upstreamProxy!.host).to.equal('proxy.corp');
  });

  it('reads user:password at up; unset, empty or malformed: MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS naming the variable', () => {
    const c = config({ url: 'http://proxy.corp:3128', credentials_env: 'CORP_AUTH' });
    expect(readUpstreamProxyCredentials(c, where, { CORP_AUTH: 'alice:pa:ss word' })).to.equal('alice:pa:ss word');
    expect(readUpstreamProxyCredentials(config({ url: 'http://p:1' }), where, {})).to.equal(undefined);
    const bad: [NodeJS.ProcessEnv, RegExp][] = [
      [{}, /CORP_AUTH is not set/],
      [{ CORP_AUTH: '' }, /CORP_AUTH is not set/],
      [{ CORP_AUTH: 'no-colon-s3cret' }, /not of the form user:password/],
      [{ CORP_AUTH: 'alice:s3cret\nx' }, /not of the form user:password/],
      [{ CORP_AUTH: ':s3cret' }, /not of the form user:password/],
    ];
    for (const [env, want] of bad) {
      const err = errorOf(() => readUpstreamProxyCredentials(c, where, env));
      expect(err.code).to.equal('MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS');
      expect(err.message).to.match(want).and.contain('egress.upstream_proxy.credentials_env').and.contain('7:5');
      expect(err.message).to.not.contain('s3cret');
    }
  });

  it("egress alone gets the credentials, under its spec's variable", () => {
    const egress = {
      role: 'egress',
      spec: { egress: { upstreamProxy: { credentialsEnv: 'MOAT_UPSTREAM_PROXY_AUTH' } } },
    } as unknown as PlannedProcess;
    expect(upstreamProxyEnv(egress, 'alice:pw')).to.deep.equal({ MOAT_UPSTREAM_PROXY_AUTH: 'alice:pw' });
    expect(upstreamProxyEnv({ role: 'builtin', spec: {} } as unknown as PlannedProcess, 'alice:pw')).to.deep.equal({});
    expect(upstreamProxyEnv(egress, undefined)).to.deep.equal({});
  });
});
