// schemas/ is the source of truth: the generated types must be what `npm run gen` makes now.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/repo-root';

const root = REPO_ROOT;

describe('generated schema types', () => {
  it('are up to date (run `npm run gen` when this fails)', async () => {
    const gen = require(join(root, 'scripts', 'gen-types.cjs'));
    const files: string[] = gen.schemaFiles();
    expect(files).to.include('chain-config.schema.json');
    for (const file of files) {
      expect(await gen.generate(file), file).to.equal(readFileSync(gen.outputPath(file), 'utf8'));
    }
  });

  it('every schema property has a description (its own, or that of the definition it refers to)', () => {
    const missing: string[] = [];
    for (const file of ['chain-config.schema.json', 'event.schema.json', 'hop-manifest.schema.json']) {
      const schema = JSON.parse(readFileSync(join(root, 'schemas', file), 'utf8'));
      const described = (node: any) =>
        node.description || (node.$ref && schema.definitions?.[node.$ref.replace('#/definitions/', '')]?.description);
      const walk = (node: any, path: string) => {
        if (!node || typeof node !== 'object') return;
        for (const [key, child] of Object.entries<any>(node.properties ?? {})) {
          if (!described(child)) missing.push(`${file}${path}.${key}`);
          walk(child, `${path}.${key}`);
        }
        for (const [key, child] of Object.entries<any>(node.definitions ?? {})) walk(child, `${path}#${key}`);
        if (node.items) walk(node.items, `${path}[]`);
      };
      walk(schema, '');
    }
    expect(missing).to.deep.equal([]);
  });
});
