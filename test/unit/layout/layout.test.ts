// The layout keeps its promises (docs/architecture.md, "Code layout"): hops/ never reaches into supervisor/, the
// pure folders touch no sockets, NATS or the runtime, and no files import each other in a circle.
import { expect } from 'chai';
import { REPO_ROOT } from '../../helpers/repo-root';
import { cycles, importsOf, sourceFiles } from './import-graph';

// Folders whose files decide without doing I/O on the network: hop logic is testable without sockets.
const PURE_FOLDERS = ['hops/logic', 'hops/dlp', 'hops/providers'];
// node:net's address parsers (isIP, isIPv4, isIPv6) open nothing.
const ADDRESS_PARSERS_ONLY = /^import\s*\{\s*isIP(v4|v6)?(\s*,\s*isIP(v4|v6)?)*\s*\}\s*from 'node:net'/;
const NETWORK_MODULES = [
  'node:net',
  'node:tls',
  'node:http',
  'node:https',
  'node:dgram',
  'node:dns',
  'net',
  'tls',
  'http',
  'https',
  'nats',
  'undici',
];

describe('code layout', () => {
  const hops = sourceFiles(REPO_ROOT, ['hops']);

  it('finds the source tree (the guards below read real files)', () => {
    expect(hops).to.include('hops/runtime/link-server.ts');
    expect(hops).to.include('hops/logic/view.ts');
    expect(importsOf(REPO_ROOT, 'hops/runtime/link-server.ts').map((i) => i.to)).to.include('node:net');
  });

  it('hops/ imports nothing from supervisor/', () => {
    const offending = hops.flatMap((f) => importsOf(REPO_ROOT, f)).filter((i) => i.to.startsWith('supervisor/'));
    expect(offending.map((i) => `${i.from} -> ${i.to}`)).to.deep.equal([]);
  });

  it('the pure folders import no sockets, NATS or runtime/ (type-only imports aside)', () => {
    const pure = hops.filter((f) => PURE_FOLDERS.some((d) => f.startsWith(`${d}/`)));
    expect(pure.length).to.be.greaterThan(10);
    const offending = pure
      .flatMap((f) => importsOf(REPO_ROOT, f))
      .filter(
        (i) =>
          !i.typeOnly &&
          !ADDRESS_PARSERS_ONLY.test(i.text) &&
          (NETWORK_MODULES.includes(i.to) || i.to.startsWith('hops/runtime/')),
      );
    expect(offending.map((i) => `${i.from} -> ${i.to}`)).to.deep.equal([]);
  });

  it('no files of hops/ or supervisor/ import each other in a circle', () => {
    const circles = cycles(REPO_ROOT, sourceFiles(REPO_ROOT, ['hops', 'supervisor']));
    expect(circles.map((c) => c.join(' -> '))).to.deep.equal([]);
  });
});
