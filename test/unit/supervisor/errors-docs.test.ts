// docs/errors.md lists every error code the code can produce, and nothing else.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, LINK_ERRORS } from '../../../supervisor/errors';
import { REPO_ROOT } from '../../helpers/repo-root';

const doc = readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
const documented = (pattern: RegExp) => [...doc.matchAll(pattern)].map((m) => m[1]);

describe('docs/errors.md', () => {
  it('documents every MOAT_ERR_* code of the registry, and no other', () => {
    expect(documented(/^\| `(MOAT_ERR_[A-Z0-9_]+)` \|/gm).sort()).to.deep.equal(Object.keys(ERROR_CODES).sort());
  });

  it('documents every error a link can answer with, and no other', () => {
    expect(documented(/^\| `([a-z_]+)` \| \d{3} \|/gm).sort()).to.deep.equal(Object.keys(LINK_ERRORS).sort());
  });
});
