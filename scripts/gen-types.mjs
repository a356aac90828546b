// Generates TypeScript types from schemas/*.schema.json into schemas/generated/.
// `npm run gen` writes them; test/schema-types.test.ts fails when they are stale.
import { compile } from 'json-schema-to-typescript';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaDir = join(root, 'schemas');

export async function generate(file) {
  const schema = JSON.parse(readFileSync(join(schemaDir, file), 'utf8'));
  return compile(schema, schema.title, {
    bannerComment: `/* Generated from schemas/${file} by \`npm run gen\`. Do not edit. */`,
    cwd: schemaDir,
    style: { singleQuote: true },
    additionalProperties: false,
  });
}

export function schemaFiles() {
  return readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'));
}

export function outputPath(file) {
  return join(schemaDir, 'generated', file.replace('.schema.json', '.ts'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of schemaFiles()) {
    writeFileSync(outputPath(file), await generate(file));
    console.log(`wrote ${outputPath(file)}`);
  }
}
