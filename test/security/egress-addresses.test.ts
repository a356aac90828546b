// Egress checks the address it connects to, not only the name (issue 16, point 2). The attacks run through a real
// chain inside namespaces whose /etc/hosts this file writes and whose network has only `lo`
// (egress-addresses.netns.ts), so names resolve to loopback, metadata and private addresses without DNS, and no
// connection can leave this machine even if the guard were gone. The pure decision has its table in
// test/unit/hops/logic/address-guard.test.ts.
import { expect } from 'chai';
import { join } from 'node:path';
import { hostsNamespaceAvailable, mochaWithHosts } from '../helpers/hosts-namespace';

// An address the guard takes for public, on the namespace's own `lo`: what egress does for an ordinary destination.
const PUBLIC = '1.2.3.4';
const HOSTS = `127.0.0.1 localhost
::1 localhost
127.0.0.1 rebind.test
127.0.0.1 rebind-tls.test
::1 rebind6.test
::ffff:127.0.0.1 rebind-mapped.test
169.254.169.254 metadata.test
100.100.100.200 alibaba-metadata.test
10.0.0.1 private.test
127.0.0.1 named-local.test
1.2.3.4 public.example.com blind-public.example.com
`;

describe(
  'security: egress refuses addresses of this machine, ' + 'metadata services and private networks behind any name',
  function () {
    this.timeout(240_000);

    it(
      'every attack of egress-addresses.netns.ts is ' + 'refused, and what the config names exactly works',
      async function () {
        if (!hostsNamespaceAvailable()) {
          console.log('      skipped: user, network and mount namespaces are not available here');
          return this.skip();
        }
        const { code, output } = await mochaWithHosts(join(__dirname, 'egress-addresses.netns.js'), HOSTS, 180_000, [
          PUBLIC,
        ]);
        // What ran inside, shown under this test.
        for (const line of output.split('\n')) if (/✔|passing|failing|pending/.test(line)) console.log(`    ${line}`);
        expect(code, output).to.equal(0);
        expect(output).to.match(/\d+ passing/);
        expect(output).to.not.match(/pending|failing/);
      },
    );
  },
);
