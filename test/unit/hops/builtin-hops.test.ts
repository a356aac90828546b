// The built-in hops' table (hops/builtin-hops.ts): a spec's name finds its logic, an unknown name fails clearly, and
// a process loads no built-in hop's modules until it runs that hop (restart time under load).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TELEMETRY_HOP, startBuiltinHop } from '../../../hops/builtin-hops';
import type { LinkSpec } from '../../../hops/spec';
import { DIST_DIR } from '../../helpers/repo-root';

const specNamed = (name: string) => ({ role: 'builtin', name }) as LinkSpec;

describe('built-in hops', () => {
  it('starts the logic of the hop its spec names', () => {
    const hop = startBuiltinHop(specNamed(TELEMETRY_HOP), () => {}, {});
    expect(hop.logic.onComplete).to.be.a('function');
  });

  it('refuses a spec naming a hop it does not have', () => {
    expect(() => startBuiltinHop(specNamed('moat-nothing'), () => {}, {})).to.throw(
      'unknown built-in hop moat-nothing',
    );
  });

  it("loading the runtime loads no built-in hop's modules, nor prom-client", () => {
    const main = join(DIST_DIR, 'hops', 'main.js');
    const script = `require(${JSON.stringify(main)}); console.log(JSON.stringify(Object.keys(require.cache)))`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(0);
    const loaded: string[] = JSON.parse(run.stdout);
    expect(loaded).to.include(main);
    expect(loaded.filter((f) => /[/\\]hops[/\\](policy|telemetry)[/\\]|prom-client/.test(f))).to.deep.equal([]);
  });
});
