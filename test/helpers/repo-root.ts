// Where tests find the project's files and the compiled tree, whatever folder the test itself sits in.
import { resolve } from 'node:path';

/** dist/ (this file is dist/test/helpers/repo-root.js). */
export const DIST_DIR = resolve(__dirname, '..', '..');
/** The project's root. */
export const REPO_ROOT = resolve(DIST_DIR, '..');
