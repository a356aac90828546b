// docs/configuration-reference.md is generated from the schema: it must be what `npm run gen` makes now.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configReference } from '../../../../supervisor/config/reference';
import { REPO_ROOT } from '../../../helpers/repo-root';

const root = REPO_ROOT;
const schema = JSON.parse(readFileSync(join(root, 'schemas', 'chain-config.schema.json'), 'utf8'));

describe('configuration reference (docs/configuration-reference.md)', () => {
  const text = configReference(schema);

  it('is up to date (run `npm run gen` when this fails)', () => {
    expect(text).to.equal(readFileSync(join(root, 'docs', 'configuration-reference.md'), 'utf8'));
  });

  it('has a row for every key, nested ones and those of each list-item shape included', () => {
    const keys = [...text.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    for (const key of [
      'name',
      'proxies',
      'proxies[] (long form).command',
      'proxies[] (manifest with overrides).use',
      'policy.rules[].policies[].max_requests_per_minute',
      'policy.dlp.detectors',
      'prices.<name>.input',
      'grants[] (generic grant).header',
      'egress.resolve',
      'capture.bodies',
    ]) {
      expect(keys, key).to.include(key);
    }
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('shows types, bounds, enums and defaults as the loader applies them', () => {
    expect(text).to.contain('| `policy.mode` | `enforce` \\| `report` | `"enforce"` |');
    expect(text).to.contain('| `ingress.port` | integer >= 0 <= 65535 | `0` |');
    expect(text).to.contain('| `policy.rules[].match` | string, required |  |');
  });
});
