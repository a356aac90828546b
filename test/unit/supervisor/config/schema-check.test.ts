// The schema checker enforces every keyword our schemas use, and refuses a schema with one it would ignore.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaChecker, unsupportedKeywords } from '../../../../supervisor/config/schema-check';
import { REPO_ROOT } from '../../../helpers/repo-root';

const schemaFile = (name: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', name), 'utf8'));

describe('schema checker', () => {
  it('knows every keyword of the shipped schemas', () => {
    for (const name of ['chain-config.schema.json', 'hop-manifest.schema.json']) {
      expect(unsupportedKeywords(schemaFile(name)), name).to.deep.equal([]);
      expect(() => new SchemaChecker(schemaFile(name))).not.to.throw();
    }
  });

  it('refuses a schema with a keyword it would not enforce, naming where', () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 3 }, tags: { type: 'array', items: { not: { enum: ['x'] } } } },
    };
    expect(unsupportedKeywords(schema)).to.deep.equal(['#/properties/name/maxLength', '#/properties/tags/items/not']);
    expect(() => new SchemaChecker(schema)).to.throw(/maxLength.*not/);
  });

  it('takes annotations and x- extensions, and property names that look like keywords', () => {
    const schema = {
      $schema: 'x',
      title: 't',
      type: 'object',
      'x-label': 'l',
      definitions: { a: { type: 'string', description: 'd' } },
      properties: { not: { type: 'string', default: 'a', examples: ['b'] } },
    };
    expect(unsupportedKeywords(schema)).to.deep.equal([]);
  });

  it('enforces uniqueItems', () => {
    const checker = new SchemaChecker({ type: 'array', uniqueItems: true, items: { type: 'string' } });
    expect(checker.check(['%2F', '%5C'])).to.deep.equal([]);
    expect(checker.check(['%2F', '%5C', '%2F']).map((p) => p.message)).to.deep.equal(['"%2F" is given twice']);
  });
});
