// The manifests in contrib-proxies/: every one is valid and documented, and a broken one is
// reported with file, line and key like moat.yaml.
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTRIB_DIR, findManifest, loadManifest, manifestNames } from '../../../../supervisor/config/manifests';
import { MoatError } from '../../../../supervisor/errors';
import { CREDENTIAL_PLACEHOLDERS } from '../../../../supervisor/config/hop-resolution';
import { tmpDir } from '../../../helpers/tmp';

describe('contrib-proxies manifests', () => {
  it('ships at least the proxies the drop-in issue names', () => {
    expect(manifestNames()).to.include.members([
      'chopratejas/headroom',
      'seifghazi/claude-code-proxy',
      'fuergaosi233/claude-code-proxy',
      'mitmproxy',
      'tinyproxy',
      'agentreserve',
      'claude-code-router',
    ]);
  });

  for (const name of manifestNames()) {
    it(
      `${name}: valid, named after its directory, with a README naming the project, how to install it and its ` +
        `limits`,
      () => {
        const found = findManifest(name)!;
        expect(found.manifest.name).to.equal(name);
        const readme = join(CONTRIB_DIR, ...name.split('/'), 'README.md');
        expect(existsSync(readme), readme).to.equal(true);
        const text = readFileSync(readme, 'utf8');
        for (const heading of ['## Install', '## Known limits'])
          expect(text, `${readme}: ${heading}`).to.contain(heading);
        expect(text, `${readme}: the project`).to.contain(found.manifest.project);
        // The next link's credential never goes on its command line (world-readable in /proc/PID/cmdline).
        for (const arg of found.manifest.command)
          for (const p of CREDENTIAL_PLACEHOLDERS) expect(arg, `${name}: command`).to.not.contain(p);
      },
    );
  }

  it('a manifest with a bad key is reported with file, line, column and key', () => {
    const dir = tmpDir('moat-manifest-');
    try {
      const file = join(dir.path, 'manifest.yaml');
      writeFileSync(
        file,
        'name: x\nsummary: s\nproject: p\nversion_checked: "1"\ninstall: i\nkind: reverse\ncommand: [x]\n',
      );
      expect(() => loadManifest(file)).to.throw(
        MoatError,
        `${file}:6:7: kind: must be one of "forward", "base_url", got "reverse"`,
      );
      writeFileSync(
        file,
        'name: x\nsummary: s\nproject: p\nversion_checked: "1"\ninstall: i\nkind: base_url\ncommand: [x]\n',
      );
      expect(() => loadManifest(file)).to.throw(
        MoatError,
        `${file}:6:7: kind: a base_url hop needs a scope (the hosts and paths it serves)`,
      );
    } finally {
      dir.remove();
    }
  });
});
